#!/usr/bin/env bash
# Builds the RS-side TOA shim, rs/build/libfullnat_toa.so, from the C sources in rs/src.
# Usage: bash rs/build.sh [--force]
# Idempotent: rebuilds only when the sources, the flags or the compiler changed (a hash of
# all three is kept beside the library), and replaces the library atomically, so servers
# already running with the old copy mapped are not disturbed. Prints the library's path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/src"
out_dir="$here/build"
lib="$out_dir/libfullnat_toa.so"
stamp="$out_dir/libfullnat_toa.so.hash"

CC="${CC:-gcc}"
# -fvisibility=hidden: only the interposed calls and the fullnat_toa_* test hooks are exported,
# so the shim's helpers can never clash with a server's own symbols.
CFLAGS=(-std=c11 -O2 -g -fPIC -shared -fvisibility=hidden -Wall -Wextra -Wshadow
  -Wno-unused-parameter -D_GNU_SOURCE)
LIBS=(-ldl -lpthread)
sources=("$src/shim.c" "$src/toa.c" "$src/fd_cache.c" "$src/trust.c" "$src/log.c")

if ! command -v "$CC" >/dev/null 2>&1; then
  echo "rs/build.sh: $CC not found; install gcc and libc6-dev (bash scripts/setup.sh does)" >&2
  exit 1
fi

hash="$(
  {
    "$CC" --version | head -n 1
    printf '%s\n' "${CFLAGS[@]}" "${LIBS[@]}"
    cat "${sources[@]}" "$src"/*.h
  } | sha256sum | cut -d' ' -f1
)"

if [[ "${1:-}" != "--force" && -f "$lib" && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
  echo "$lib"
  exit 0
fi

mkdir -p "$out_dir"
tmp="$(mktemp "$out_dir/.libfullnat_toa.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
"$CC" "${CFLAGS[@]}" -I "$src" -o "$tmp" "${sources[@]}" "${LIBS[@]}"
chmod 0755 "$tmp"
mv -f "$tmp" "$lib"
printf '%s\n' "$hash" >"$stamp"
echo "$lib"

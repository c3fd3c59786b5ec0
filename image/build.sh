#!/usr/bin/env bash
# Builds the fullnat appliance as a bootable VM disk without a Docker daemon:
#
#   bash image/build.sh [--out DIR] [--force] [--no-qcow2]
#
#   1. mmdebstrap makes a minimal Debian 12 base tarball (cached);
#   2. podman imports it under the name image/Dockerfile starts FROM and builds that Dockerfile
#      with chroot isolation (no daemon, no registry; podman's layer cache kept between runs);
#   3. podman export gives the root filesystem, minus what the build leaks from this host;
#   4. mkfs.ext4 -d turns it into an ext4 filesystem without mounting anything, which goes into
#      partition 1 of an MBR disk whose first sectors get GRUB's boot.img and core.img (both made
#      by the Dockerfile, see image/configure.sh): the disk boots on its own from BIOS;
#   5. qemu-img makes the compressed qcow2.
#
# DIR (default: a directory per input hash under $FULLNAT_IMAGE_CACHE, /var/cache/fullnat-image)
# receives fullnat.raw, fullnat.qcow2 (not with --no-qcow2), and for direct kernel boot vmlinuz,
# initrd.img and cmdline (the command line grub.cfg uses too, image/kernel-cmdline), build-info
# and podman-build.log. When DIR
# already holds a build of the same inputs (Dockerfile, image/, main.ts, src/, deno.json,
# deno.lock) nothing is rebuilt. The last line printed is DIR. Run as root.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${FULLNAT_IMAGE_CACHE:-/var/cache/fullnat-image}"
suite="bookworm"
# The name image/Dockerfile's FROM uses by default: Docker pulls it, this script imports it.
base_ref="docker.io/library/debian:${suite}"
image_ref="localhost/fullnat-appliance:latest"
mirrors=(
  "deb http://deb.debian.org/debian ${suite} main"
  "deb http://deb.debian.org/debian ${suite}-updates main"
  "deb http://deb.debian.org/debian-security ${suite}-security main"
)

out=""
force=0
qcow2=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    --force) force=1; shift ;;
    --no-qcow2) qcow2=0; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument '$1'; try: bash image/build.sh --help" >&2; exit 2 ;;
  esac
done

say() { echo "build.sh: $*" >&2; }
die() { say "$*"; exit 1; }

[[ "$(id -u)" -eq 0 ]] || die "must run as root (podman builds as root; mkfs.ext4 keeps owners)"
for tool in mmdebstrap podman mkfs.ext4 e2fsck sfdisk qemu-img tar sha256sum flock; do
  command -v "$tool" >/dev/null || die "$tool is missing; run: bash scripts/setup.sh"
done

mkdir -p "$cache"
# One build at a time on this machine: podman's storage and the base tarball are shared.
exec 9>"$cache/lock"
flock 9

work="$(mktemp -d "$cache/work.XXXXXX")"
cleanup() {
  # podman export writes files the build owns as root; remove them whatever happened.
  rm -rf "$work"
}
trap cleanup EXIT

# --- the build context and the hash of every input ----------------------------------------------
ctx="$work/context"
mkdir -p "$ctx"
(cd "$repo" && cp -a --parents main.ts deno.json deno.lock src image "$ctx/")
# Only what the image is made of: tests, editor droppings and logs do not change it.
find "$ctx/src" -name '*_test.ts' -delete
find "$ctx" \( -name '*.log' -o -name '*~' -o -name '.#*' \) -delete
inputs_hash="$(
  cd "$ctx"
  {
    printf '%s\n' "$suite" "${mirrors[@]}"
    find . -type f -print0 | sort -z | xargs -0 sha256sum
    find . -type l -printf '%p -> %l\n' | sort
  } | sha256sum | cut -c1-16
)"
if [[ -z "$out" ]]; then
  out="$cache/images/$inputs_hash"
fi
# qcow2 (compressed, for distribution) from the raw disk, unless it is there already.
make_qcow2() {
  [[ "$qcow2" -eq 1 && ! -f "$out/fullnat.qcow2" ]] || return 0
  say "converting to qcow2"
  qemu-img convert -c -O qcow2 "$out/fullnat.raw" "$out/fullnat.qcow2.partial"
  mv "$out/fullnat.qcow2.partial" "$out/fullnat.qcow2"
  echo "qcow2_bytes=$(stat -c %s "$out/fullnat.qcow2")" >>"$out/build-info"
}
if [[ "$force" -eq 0 && -f "$out/build-info" ]] &&
  grep -qx "inputs=$inputs_hash" "$out/build-info"; then
  say "inputs unchanged ($inputs_hash): reusing $out"
  make_qcow2
  echo "$out"
  exit 0
fi
started="$(date +%s)"

# --- 1. the Debian base -------------------------------------------------------------------------
base_key="$(printf '%s\n' minbase merged-usr "$suite" "${mirrors[@]}" | sha256sum | cut -c1-16)"
base_tar="$cache/base/debian-${suite}-minbase-${base_key}.tar"
if [[ ! -s "$base_tar" ]]; then
  say "making the Debian base with mmdebstrap"
  mkdir -p "$cache/base"
  rm -f "$cache/base/"*.tar
  mmdebstrap --variant=minbase --format=tar --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    "$suite" "$base_tar.partial" "${mirrors[@]}" >"$work/mmdebstrap.log" 2>&1 ||
    { tail -n 30 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed (log above)"; }
  mv "$base_tar.partial" "$base_tar"
fi

# podman's own storage, apart from anything else on the machine that uses podman.
podman_cmd=(podman --root "$cache/podman/storage"
  --runroot "/run/fullnat-image-podman-$(printf '%s' "$cache" | sha256sum | cut -c1-8)"
  --storage-driver overlay)
if [[ "$(cat "$cache/podman/base-imported" 2>/dev/null)" != "$base_key" ]] ||
  ! "${podman_cmd[@]}" image exists "$base_ref"; then
  say "importing the base as $base_ref"
  "${podman_cmd[@]}" import --quiet "$base_tar" "$base_ref" >/dev/null
  echo "$base_key" >"$cache/podman/base-imported"
fi

# --- 2. the Dockerfile --------------------------------------------------------------------------
say "building image/Dockerfile with podman (chroot isolation)"
# chroot isolation: the default runtime fails on this machine's mixed cgroups, and runc leaves a
# CNI bridge and iptables chains behind. --pull=never: the base is the one imported above.
# The host's CA bundle goes in as a build secret: npm and Deno fetch over HTTPS, which on some
# machines passes through a proxy with its own CA. It never lands in a layer.
secret=()
if [[ -s /etc/ssl/certs/ca-certificates.crt ]]; then
  secret=(--secret id=extra-ca,src=/etc/ssl/certs/ca-certificates.crt)
fi
version="$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
"${podman_cmd[@]}" build --isolation chroot --pull=never --layers --network host "${secret[@]}" \
  --build-arg "FULLNAT_VERSION=$version" \
  -f "$ctx/image/Dockerfile" -t "$image_ref" "$ctx" >"$work/podman-build.log" 2>&1 ||
  { tail -n 40 "$work/podman-build.log" >&2; die "podman build failed (log above)"; }
mkdir -p "$out"
cp "$work/podman-build.log" "$out/podman-build.log"

# --- 3. the root filesystem ---------------------------------------------------------------------
say "exporting the root filesystem"
rootfs="$work/rootfs"
mkdir -p "$rootfs"
container="$("${podman_cmd[@]}" create "$image_ref" /bin/true)"
"${podman_cmd[@]}" export "$container" | tar -x -p --numeric-owner --xattrs --xattrs-include='*' \
  -C "$rootfs"
"${podman_cmd[@]}" rm "$container" >/dev/null
# Untagged layers are podman's build cache (pruning them makes the next build start over), so
# they are dropped only when they grow past 8 GiB.
if [[ "$(du -s -k "$cache/podman/storage" | cut -f1)" -gt $((8 * 1024 * 1024)) ]]; then
  say "podman storage over 8 GiB: pruning the build cache"
  "${podman_cmd[@]}" image prune -f >/dev/null 2>&1 || true
fi

# A container engine fills these at run time; the build leaves this host's copies behind.
printf 'fullnat\n' >"$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tfullnat\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
  >"$rootfs/etc/hosts"
rm -f "$rootfs/etc/resolv.conf"
: >"$rootfs/etc/resolv.conf"
# systemd makes a machine id on first boot when the file is empty; every copy gets its own.
: >"$rootfs/etc/machine-id"

kernel="$(find "$rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)"
initrd="$(find "$rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n 1)"
[[ -n "$kernel" && -n "$initrd" ]] || die "the image has no kernel or initramfs in /boot"

# --- 4. the disk --------------------------------------------------------------------------------
# Layout (MBR): sector 0 GRUB's boot.img and the partition table; sectors 1-2047 core.img (the
# "MBR gap" grub-install embeds into); partition 1 from 1 MiB to the end, the ext4 root.
grub_dir="$rootfs/boot/grub/i386-pc"
for f in boot.img core.img; do
  [[ -s "$grub_dir/$f" ]] || die "the image has no /boot/grub/i386-pc/$f (see image/configure.sh)"
done
part_start=2048
core_sectors=$((($(stat -c %s "$grub_dir/core.img") + 511) / 512))
[[ "$core_sectors" -lt "$part_start" ]] ||
  die "core.img takes $core_sectors sectors; only $((part_start - 1)) fit before partition 1"
# boot.img's fields that grub-install patches, checked before they are written (GRUB 2's
# boot.S): the sector of core.img at 0x5c (8 bytes), the boot drive at 0x64 (0xff: the one the
# BIOS passes), the jump that skips the hard-disk drive check at 0x66, the signature at 0x1fe.
bootimg_hex="$(od -An -v -tx1 "$grub_dir/boot.img" | tr -d ' \n')"
[[ "${#bootimg_hex}" -eq 1024 && "${bootimg_hex:0x5c*2:16}" == "0100000000000000" &&
  "${bootimg_hex:0x64*2:2}" == "ff" && "${bootimg_hex:0x66*2:2}" == "eb" &&
  "${bootimg_hex:0x1fe*2:4}" == "55aa" ]] ||
  die "boot.img is not the GRUB 2 i386-pc boot sector this script knows how to install"

mkdir -p "$out"
rm -f "$out/build-info"
say "making the ext4 filesystem and the disk"
used_kib="$(du -s -k "$rootfs" | cut -f1)"
# Room for the configuration database, logs and an upgrade: a third more, plus 512 MiB.
size_mib=$(((used_kib * 4 / 3) / 1024 + 512))
fs="$work/root.ext4"
truncate -s "${size_mib}M" "$fs"
mkfs.ext4 -q -F -L fullnat-root -d "$rootfs" "$fs" >/dev/null
e2fsck -fn "$fs" >"$work/e2fsck.log" 2>&1 ||
  { cat "$work/e2fsck.log" >&2; die "e2fsck found errors in the new filesystem"; }
raw="$out/fullnat.raw"
rm -f "$raw" "$raw.partial"
truncate -s "$((size_mib + part_start / 2048))M" "$raw.partial"
# A fixed disk identifier per input hash: the same inputs make the same partition table.
printf 'label: dos\nlabel-id: 0x%s\nstart=%d, type=83, bootable\n' "${inputs_hash:0:8}" \
  "$part_start" | sfdisk --quiet --no-reread --no-tell-kernel "$raw.partial" >/dev/null
# The filesystem into partition 1; sparse keeps the disk's unused blocks unallocated.
dd if="$fs" of="$raw.partial" bs=1M seek=$((part_start / 2048)) conv=notrunc,sparse status=none
rm -f "$fs"
# What grub-install does on a BIOS disk with an MBR gap, by hand: boot.img's code into the first
# 440 bytes (the disk signature, partition table and 0x55aa stay sfdisk's), the drive-check
# jump replaced by two NOPs (a hard disk: some BIOSes pass a wrong drive number), and core.img
# from sector 1, where boot.img's kernel sector (checked above) points; core.img's own first
# sector (diskboot.img) loads the rest from sector 2 on, as grub-mkimage wrote it.
dd if="$grub_dir/boot.img" of="$raw.partial" bs=440 count=1 conv=notrunc status=none
printf '\x90\x90' | dd of="$raw.partial" bs=1 seek=$((0x66)) conv=notrunc status=none
dd if="$grub_dir/core.img" of="$raw.partial" bs=512 seek=1 conv=notrunc status=none
mv "$raw.partial" "$raw"
cp "$kernel" "$out/vmlinuz"
cp "$initrd" "$out/initrd.img"
cp "$ctx/image/kernel-cmdline" "$out/cmdline"

rm -f "$out/fullnat.qcow2"
finished="$(date +%s)"
{
  echo "inputs=$inputs_hash"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "build_seconds=$((finished - started))"
  echo "kernel=$(basename "$kernel")"
  echo "rootfs_kib=$used_kib"
  echo "raw_bytes=$(stat -c %s "$raw")"
  echo "raw_allocated_kib=$(du -k "$raw" | cut -f1)"
  echo "partition_start_sector=$part_start"
  echo "core_img_sectors=$core_sectors"
} >"$out/build-info.partial"
mv "$out/build-info.partial" "$out/build-info"
make_qcow2

# Keep the three newest builds in the cache.
if [[ -d "$cache/images" ]]; then
  find "$cache/images" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn |
    tail -n +4 | cut -d' ' -f2- | while read -r old; do
      [[ "$old" == "$out" ]] || rm -rf "$old"
    done
fi

say "done in $(($(date +%s) - started)) s; $(grep -E '^(raw|qcow2)_bytes=' "$out/build-info" | tr '\n' ' ')"
echo "$out"

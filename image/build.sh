#!/usr/bin/env bash
# Builds the fullnat appliance as a bootable VM disk without a Docker daemon:
#
#   bash image/build.sh [--out DIR] [--force] [--no-qcow2] [--version V] [--bundle-only]
#                       [--break-daemon]
#
#   1. mmdebstrap makes a minimal Debian 12 base tarball (cached);
#   2. podman imports it under the name image/Dockerfile starts FROM and builds that Dockerfile
#      with chroot isolation (no daemon, no registry; podman's layer cache kept between runs);
#   3. podman export gives the root filesystem, minus what the build leaks from this host;
#   4. mkfs -d turns it into filesystems without mounting anything, which go into an MBR disk:
#      partition 1 the GRUB boot partition, 2 and 3 the A and B root slots (A holds this build,
#      B is empty until the first upgrade), 4 the data partition (configuration, state, host and
#      admin keys, the journal; grown to the disk at first boot); the first sectors get GRUB's
#      boot.img and core.img (both made by the Dockerfile, see image/configure.sh);
#   5. the upgrade bundle: a header (version, size and sha256 of the root filesystem) and the
#      root filesystem compressed with zstd, what `system upgrade -` on a box takes on stdin;
#   6. qemu-img makes the compressed qcow2.
#
# --version V stamps V into the image's /etc/fullnat-image (default: dev-HASH). --bundle-only
# makes only the bundle (an upgrade for boxes already running). --break-daemon is for the
# upgrade test: an image whose daemon cannot start, so the box must fall back to the old slot.
#
# DIR (default: a directory per input hash under $FULLNAT_IMAGE_CACHE, /var/cache/fullnat-image)
# receives fullnat.raw, fullnat.qcow2 (not with --no-qcow2), fullnat-upgrade.img, and for direct
# kernel boot vmlinuz, initrd.img and cmdline (slot A's kernel command line; grub.cfg adds the
# same, image/kernel-cmdline), build-info and podman-build.log. When DIR already holds a build
# of the same inputs (Dockerfile, image/, main.ts, src/, deno.json, deno.lock, the options)
# nothing is rebuilt. The last line printed is DIR. Run as root.
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
version=""
bundle_only=0
break_daemon=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    --force) force=1; shift ;;
    --no-qcow2) qcow2=0; shift ;;
    --version) version="${2:?--version needs a string}"; shift 2 ;;
    --version=*) version="${1#--version=}"; shift ;;
    --bundle-only) bundle_only=1; qcow2=0; shift ;;
    --break-daemon) break_daemon=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument '$1'; try: bash image/build.sh --help" >&2; exit 2 ;;
  esac
done

say() { echo "build.sh: $*" >&2; }
die() { say "$*"; exit 1; }

[[ "$(id -u)" -eq 0 ]] || die "must run as root (podman builds as root; mkfs.ext4 keeps owners)"
for tool in mmdebstrap podman mkfs.ext4 mkfs.ext2 e2fsck resize2fs sfdisk qemu-img tar sha256sum \
  flock zstd; do
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
# The hash of the inputs with the given options (version, bundle_only, break_daemon).
inputs_with() {
  (
    cd "$ctx"
    {
      printf '%s\n' "$suite" "${mirrors[@]}"
      printf 'version=%s bundle_only=%s break_daemon=%s\n' "$1" "$2" "$3"
      find . -type f -print0 | sort -z | xargs -0 sha256sum
      find . -type l -printf '%p -> %l\n' | sort
    } | sha256sum | cut -c1-16
  )
}
inputs_hash="$(inputs_with "$version" "$bundle_only" "$break_daemon")"
if [[ -z "$out" ]]; then
  out="$cache/images/$inputs_hash"
fi
[[ -n "$version" ]] || version="dev-$inputs_hash"
[[ "$version" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$ ]] ||
  die "--version '$version': letters, digits and . _ + - only, at most 64"
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

# The upgrade bundle of root filesystem $1 ($version, $slot_mib) as $out/fullnat-upgrade.img: a
# text header (version, size and sha256 of the filesystem, compression, slot size) ended by an
# empty line, then the zstd-compressed filesystem. Sets bundle, fs_bytes and fs_sha for the
# caller (build-info records them).
write_bundle() {
  bundle="$out/fullnat-upgrade.img"
  fs_bytes="$(stat -c %s "$1")"
  fs_sha="$(sha256sum "$1" | cut -d' ' -f1)"
  {
    printf 'fullnat-upgrade-bundle 1\nversion=%s\nimage_bytes=%s\nimage_sha256=%s\n' \
      "$version" "$fs_bytes" "$fs_sha"
    printf 'compression=zstd\nslot_mib=%s\n\n' "$slot_mib"
    zstd -q -T0 -3 -c "$1"
  } >"$bundle.partial"
  mv "$bundle.partial" "$bundle"
}

# --- a bundle variant of a build already made ---------------------------------------------------
# --bundle-only differs from the plain build of the same tree only in /etc/fullnat-image (and
# --break-daemon's drop-in). When that build is in the cache, its bundle's filesystem is edited
# with debugfs and compressed again: no podman build, export or mkfs (seconds, not minutes).
base_dir="$cache/images/$(inputs_with "" 0 0)"
if [[ "$bundle_only" -eq 1 && -s "$base_dir/fullnat-upgrade.img" ]] &&
  grep -q "^inputs=${base_dir##*/}$" "$base_dir/build-info" 2>/dev/null; then
  say "deriving the bundle from the cached build ${base_dir##*/}"
  base_bundle="$base_dir/fullnat-upgrade.img"
  # The header ends at the first empty line; the zstd payload follows.
  header_bytes="$(head -c 4096 "$base_bundle" | LC_ALL=C awk '{ n += length($0) + 1 } /^$/ { print n; exit }')"
  slot_mib="$(head -c 4096 "$base_bundle" | sed -n '1,/^$/s/^slot_mib=//p')"
  fs="$work/root.ext4"
  tail -c +"$((header_bytes + 1))" "$base_bundle" | zstd -q -d -c >"$fs"
  printf 'version=%s\ninputs=%s\nbuilt=%s\n' "$version" "$inputs_hash" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$work/fullnat-image"
  {
    echo "rm /etc/fullnat-image"
    echo "write $work/fullnat-image /etc/fullnat-image"
    echo "sif /etc/fullnat-image mode 0100644"
    echo "sif /etc/fullnat-image uid 0"
    echo "sif /etc/fullnat-image gid 0"
    if [[ "$break_daemon" -eq 1 ]]; then
      printf '[Service]\nExecStart=\nExecStart=/bin/false\n' >"$work/broken.conf"
      echo "mkdir /etc/systemd/system/fullnat.service.d"
      echo "write $work/broken.conf /etc/systemd/system/fullnat.service.d/zz-broken-for-test.conf"
      echo "sif /etc/systemd/system/fullnat.service.d/zz-broken-for-test.conf mode 0100644"
      echo "sif /etc/systemd/system/fullnat.service.d/zz-broken-for-test.conf uid 0"
      echo "sif /etc/systemd/system/fullnat.service.d/zz-broken-for-test.conf gid 0"
    fi
  } >"$work/debugfs.cmd"
  debugfs -w -f "$work/debugfs.cmd" "$fs" >"$work/debugfs.log" 2>&1 ||
    { cat "$work/debugfs.log" >&2; die "debugfs could not edit the root filesystem"; }
  e2fsck -fn "$fs" >"$work/e2fsck.log" 2>&1 ||
    { cat "$work/e2fsck.log" >&2; die "e2fsck found errors in the edited root filesystem"; }
  mkdir -p "$out"
  rm -f "$out/build-info"
  write_bundle "$fs"
  for f in vmlinuz initrd.img cmdline; do cp "$base_dir/$f" "$out/$f"; done
  {
    echo "inputs=$inputs_hash"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "build_seconds=$(($(date +%s) - started))"
    echo "version=$version"
    echo "derived_from=${base_dir##*/}"
    grep -E '^(kernel|rootfs_kib)=' "$base_dir/build-info"
    echo "rootfs_image_bytes=$fs_bytes"
    echo "bundle_bytes=$(stat -c %s "$bundle")"
    echo "bundle_sha256=$fs_sha"
    echo "slot_mib=$slot_mib"
  } >"$out/build-info.partial"
  mv "$out/build-info.partial" "$out/build-info"
  say "derived in $(($(date +%s) - started)) s; bundle_bytes=$(stat -c %s "$bundle")"
  echo "$out"
  exit 0
fi

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
# The code's version (show version) is git's; $version, the image's, is stamped after export.
code_version="$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
"${podman_cmd[@]}" build --isolation chroot --pull=never --layers --network host "${secret[@]}" \
  --build-arg "FULLNAT_VERSION=$code_version" \
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
# Names are looked up through systemd-resolved's stub, which carries the stored `dns` settings
# (image/configure.sh). The engine's file is replaced here, not in configure.sh: during the build
# /etc/resolv.conf is the engine's bind mount, which the package's postinst cannot replace.
rm -f "$rootfs/etc/resolv.conf"
ln -s ../run/systemd/resolve/stub-resolv.conf "$rootfs/etc/resolv.conf"
# systemd makes a machine id on first boot when the file is empty; every copy gets its own.
: >"$rootfs/etc/machine-id"
# What this image is: `system show` and the upgrade read it.
printf 'version=%s\ninputs=%s\nbuilt=%s\n' "$version" "$inputs_hash" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$rootfs/etc/fullnat-image"
if [[ "$break_daemon" -eq 1 ]]; then
  # The upgrade test's broken image: its daemon exits at once, so it never comes up healthy.
  mkdir -p "$rootfs/etc/systemd/system/fullnat.service.d"
  printf '[Service]\nExecStart=\nExecStart=/bin/false\n' \
    >"$rootfs/etc/systemd/system/fullnat.service.d/zz-broken-for-test.conf"
fi

kernel="$(find "$rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)"
initrd="$(find "$rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n 1)"
[[ -n "$kernel" && -n "$initrd" ]] || die "the image has no kernel or initramfs in /boot"

# --- 4. the filesystems and the disk ------------------------------------------------------------
# Layout (MBR, 512-byte sectors): sector 0 GRUB's boot.img and the partition table; sectors
# 1-2047 core.img (the "MBR gap" grub-install embeds into); then
#   1 fullnat-boot    ext2, GRUB's modules, grub.cfg and grubenv (the slot to boot); bootable
#   2 fullnat-root-a  ext4, root slot A: this build
#   3 fullnat-root-b  ext4, root slot B: empty until the first `system upgrade`
#   4 fullnat-data    ext4, /data: what both slots share; last, so it can grow to the disk
grub_dir="$rootfs/boot/grub/i386-pc"
for f in boot.img core.img; do
  [[ -s "$grub_dir/$f" ]] || die "the image has no /boot/grub/i386-pc/$f (see image/configure.sh)"
done
[[ -s "$rootfs/boot/grub/grub.cfg" ]] || die "the image has no /boot/grub/grub.cfg"
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
say "making the filesystems"
# The boot partition's content: /boot/grub of the image, and a grubenv naming slot A. It never
# changes with an upgrade (a new image's /boot/grub is not used): the bundle is the root only.
bootfs_dir="$work/bootfs"
mkdir -p "$bootfs_dir"
mv "$rootfs/boot/grub" "$bootfs_dir/grub"
mkdir -p "$rootfs/boot/grub"
# GRUB's environment block: exactly 1024 bytes, '#'-padded (what grub-editenv writes).
env_text=$'# GRUB Environment Block\nfullnat_default=a\n'
{
  printf '%s' "$env_text"
  head -c $((1024 - ${#env_text})) /dev/zero | tr '\0' '#'
} >"$bootfs_dir/grub/grubenv"
[[ "$(stat -c %s "$bootfs_dir/grub/grubenv")" -eq 1024 ]] || die "grubenv is not 1024 bytes"

# The data partition's first content: the directories both slots bind or link to (see
# image/rootfs/etc/fstab.d and configure.sh), the admin's home as the image made it.
datafs_dir="$work/datafs"
mkdir -p "$datafs_dir"/{fullnat,ssh,system,journal}
cp -a "$rootfs/home" "$datafs_dir/home"
fullnat_gid="$(awk -F: '$1 == "fullnat" { print $3 }' "$rootfs/etc/group")"
journal_gid="$(awk -F: '$1 == "systemd-journal" { print $3 }' "$rootfs/etc/group")"
[[ -n "$fullnat_gid" ]] || die "the image has no group fullnat"
chown "0:$fullnat_gid" "$datafs_dir/fullnat"
chmod 0750 "$datafs_dir/fullnat"
chmod 0755 "$datafs_dir/ssh" "$datafs_dir/system"
if [[ -n "$journal_gid" ]]; then
  chown "0:$journal_gid" "$datafs_dir/journal"
  chmod 2755 "$datafs_dir/journal"
fi

used_kib="$(du -s -k "$rootfs" | cut -f1)"
# The root filesystem as shipped (in slot A and in the bundle): its content plus a quarter and
# 64 MiB. A slot is half as big again plus 256 MiB, room for later, bigger versions; the
# filesystem is grown to its slot once written there.
fs_mib=$(((used_kib * 5 / 4) / 1024 + 64))
slot_mib=$(((fs_mib * 3 / 2 + 256 + 63) / 64 * 64))
boot_mib=32
data_mib=64
fs="$work/root.ext4"
truncate -s "${fs_mib}M" "$fs"
mkfs.ext4 -q -F -L fullnat-root -d "$rootfs" "$fs" >/dev/null
e2fsck -fn "$fs" >"$work/e2fsck.log" 2>&1 ||
  { cat "$work/e2fsck.log" >&2; die "e2fsck found errors in the new root filesystem"; }

# --- 5. the upgrade bundle ----------------------------------------------------------------------
say "making the upgrade bundle"
write_bundle "$fs"
printf '%s  fullnat-upgrade.img (root filesystem %s)\n' "$fs_sha" "$version" >"$out/fullnat-upgrade.sha256"

raw="$out/fullnat.raw"
rm -f "$raw" "$raw.partial"
if [[ "$bundle_only" -eq 0 ]]; then
  say "making the disk"
  bootfs="$work/boot.ext2"
  truncate -s "${boot_mib}M" "$bootfs"
  mkfs.ext2 -q -F -L fullnat-boot -d "$bootfs_dir" "$bootfs" >/dev/null
  datafs="$work/data.ext4"
  truncate -s "${data_mib}M" "$datafs"
  mkfs.ext4 -q -F -L fullnat-data -d "$datafs_dir" "$datafs" >/dev/null
  for f in "$bootfs" "$datafs"; do
    e2fsck -fn "$f" >"$work/e2fsck.log" 2>&1 ||
      { cat "$work/e2fsck.log" >&2; die "e2fsck found errors in $(basename "$f")"; }
  done
  # Slot A gets the shipped filesystem grown to the slot; label fullnat-root-a.
  resize2fs -f "$fs" "${slot_mib}M" >/dev/null 2>&1 || die "resize2fs of the root to its slot failed"
  e2label "$fs" fullnat-root-a

  mib=2048 # sectors per MiB
  p1=$part_start
  p2=$((p1 + boot_mib * mib))
  p3=$((p2 + slot_mib * mib))
  p4=$((p3 + slot_mib * mib))
  end=$((p4 + data_mib * mib))
  truncate -s "$((end * 512))" "$raw.partial"
  # A fixed disk identifier per input hash: the same inputs make the same partition table.
  printf 'label: dos\nlabel-id: 0x%s\nstart=%d, size=%d, type=83, bootable\nstart=%d, size=%d, type=83\nstart=%d, size=%d, type=83\nstart=%d, size=%d, type=83\n' \
    "${inputs_hash:0:8}" "$p1" "$((p2 - p1))" "$p2" "$((p3 - p2))" "$p3" "$((p4 - p3))" \
    "$p4" "$((end - p4))" | sfdisk --quiet --no-reread --no-tell-kernel "$raw.partial" >/dev/null
  # Each filesystem into its partition; sparse keeps the unused blocks unallocated.
  dd if="$bootfs" of="$raw.partial" bs=1M seek=$((p1 / mib)) conv=notrunc,sparse status=none
  dd if="$fs" of="$raw.partial" bs=1M seek=$((p2 / mib)) conv=notrunc,sparse status=none
  dd if="$datafs" of="$raw.partial" bs=1M seek=$((p4 / mib)) conv=notrunc,sparse status=none
  rm -f "$fs" "$bootfs" "$datafs"
  # What grub-install does on a BIOS disk with an MBR gap, by hand: boot.img's code into the
  # first 440 bytes (the disk signature, partition table and 0x55aa stay sfdisk's), the
  # drive-check jump replaced by two NOPs (a hard disk: some BIOSes pass a wrong drive number),
  # and core.img from sector 1, where boot.img's kernel sector (checked above) points;
  # core.img's own first sector (diskboot.img) loads the rest from sector 2 on.
  dd if="$bootfs_dir/grub/i386-pc/boot.img" of="$raw.partial" bs=440 count=1 conv=notrunc status=none
  printf '\x90\x90' | dd of="$raw.partial" bs=1 seek=$((0x66)) conv=notrunc status=none
  dd if="$bootfs_dir/grub/i386-pc/core.img" of="$raw.partial" bs=512 seek=1 conv=notrunc status=none
  mv "$raw.partial" "$raw"
fi
cp "$kernel" "$out/vmlinuz"
cp "$initrd" "$out/initrd.img"
printf 'root=LABEL=fullnat-root-a fullnat.slot=a %s\n' "$(cat "$ctx/image/kernel-cmdline")" >"$out/cmdline"

rm -f "$out/fullnat.qcow2"
finished="$(date +%s)"
{
  echo "inputs=$inputs_hash"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "build_seconds=$((finished - started))"
  echo "version=$version"
  echo "kernel=$(basename "$kernel")"
  echo "rootfs_kib=$used_kib"
  echo "rootfs_image_bytes=$fs_bytes"
  echo "bundle_bytes=$(stat -c %s "$bundle")"
  echo "bundle_sha256=$fs_sha"
  echo "slot_mib=$slot_mib"
  if [[ "$bundle_only" -eq 0 ]]; then
    echo "raw_bytes=$(stat -c %s "$raw")"
    echo "raw_allocated_kib=$(du -k "$raw" | cut -f1)"
    echo "partition_start_sector=$part_start"
    echo "boot_mib=$boot_mib"
    echo "data_mib=$data_mib"
    echo "core_img_sectors=$core_sectors"
  fi
} >"$out/build-info.partial"
mv "$out/build-info.partial" "$out/build-info"
make_qcow2

# Keep the five newest builds in the cache (the upgrade test makes three variants).
if [[ -d "$cache/images" ]]; then
  find "$cache/images" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn |
    tail -n +6 | cut -d' ' -f2- | while read -r old; do
      [[ "$old" == "$out" ]] || rm -rf "$old"
    done
fi

say "done in $(($(date +%s) - started)) s; $(grep -E '^(raw|qcow2|bundle)_bytes=' "$out/build-info" | tr '\n' ' ')"
echo "$out"

#!/bin/sh
# Runs once inside the image build (image/Dockerfile), from the directory holding a copy of
# image/: puts the appliance's own files in place, makes the admin user and enables the units.
set -eu
cd "$(dirname "$0")"

cp -a rootfs/. /
chmod 0755 /usr/local/bin/fullnat /usr/local/bin/fullnat-login-shell /usr/local/bin/fullnat-ssh-fingerprints \
  /usr/local/sbin/fullnat-slot /usr/local/sbin/fullnat-mgmt-boot /usr/local/sbin/fullnat-provision-check \
  /etc/initramfs-tools/hooks/fullnat-grow-data /etc/initramfs-tools/hooks/fullnat-vm-drivers \
  /etc/initramfs-tools/scripts/local-premount/fullnat-grow-data \
  /etc/initramfs-tools/scripts/local-bottom/fullnat-mount-data

# The daemon's control socket belongs to group fullnat (fullnat.service); the admin is in it.
groupadd --system fullnat
useradd --create-home --shell /usr/local/bin/fullnat-login-shell --groups fullnat admin
# "*": no password can match, yet the account is not locked, which sshd would refuse.
usermod -p '*' admin
echo /usr/local/bin/fullnat-login-shell >>/etc/shells
# `show log` reads the journal as the admin.
usermod -a -G systemd-journal admin

# `show version`: what this image is (FULLNAT_VERSION is a build argument of the Dockerfile).
printf 'NAME=fullnat\nVERSION=%s\nBUILT=%s\n' "${FULLNAT_VERSION:-unknown}" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >/etc/fullnat-release
echo "${FULLNAT_VERSION:-unknown}" >/opt/fullnat/VERSION

# Provisioning units (image/provision/*.service), enabled as shipped.
for unit in provision/*.service; do
  [ -e "$unit" ] || continue
  install -m 0644 "$unit" /etc/systemd/system/
  systemctl enable "$(basename "$unit")"
done

# Host keys are made by each box at its first boot, never shared by every copy of the image.
# They live on the data partition, so every root slot (an upgrade) keeps them.
rm -f /etc/ssh/ssh_host_*
for k in ed25519 ecdsa; do
  ln -s "/data/ssh/ssh_host_${k}_key" "/etc/ssh/ssh_host_${k}_key"
  ln -s "/data/ssh/ssh_host_${k}_key.pub" "/etc/ssh/ssh_host_${k}_key.pub"
done

# eth0, eth1 ... in the order the NICs appear, the names provisioning files use.
ln -sf /dev/null /etc/systemd/network/99-default.link

systemctl enable fullnat.service fullnat-ssh-hostkeys.service ssh.service \
  fullnat-upgrade.socket fullnat-slot-confirm.service
# The box's stored network at boot: systemd-networkd reads the files the daemon writes
# (/etc/systemd/network/10-fullnat-*.network) and puts the management address up before sshd
# (ssh.service is After=network.target), tens of seconds before the daemon (Deno) could under
# emulation. Nothing waits for "online" (keepalived only Wants network-online.target), and
# addresses from the kernel command line are not used.
systemctl enable systemd-networkd.service
systemctl disable systemd-networkd-wait-online.service systemd-network-generator.service || true
# Management access (sshd's addresses, host firewall, fallback address) and the host keys'
# fingerprints on the console: src/mgmt, README "Management access".
systemctl enable fullnat-mgmt.service fullnat-mgmt-apply.service fullnat-ssh-fingerprints.service
# The stored DNS and NTP settings (README "The box's own network"): systemd-resolved and
# systemd-timesyncd read the drop-ins the daemon writes in these directories (and restarts them
# when one changes); names are looked up through resolved's stub (/etc/resolv.conf is made its
# link by build.sh: during the build it is the container engine's). Their units are ordered
# Before=sysinit.target (resolved also Before=network.target), which would hold everything,
# sshd included, until they are up; nothing on the box needs a name or the time synchronized
# before it starts, so each unit is used as packaged minus those two orderings: a copy in
# /etc/systemd/system, made from the installed one so it follows the package. They start as
# early, and nothing waits for them.
install -d -m 0755 /etc/systemd/resolved.conf.d /etc/systemd/timesyncd.conf.d
for unit in systemd-resolved.service systemd-timesyncd.service; do
  sed -E '/^Before=/s/(sysinit|network)\.target ?//g; /^Before=/s/ +$//' "/lib/systemd/system/$unit" \
    >"/etc/systemd/system/$unit"
  grep -q '^Before=' "/etc/systemd/system/$unit" || { echo "configure.sh: $unit has no Before= line" >&2; exit 1; }
  if grep -Eq '^Before=.*(sysinit|network)\.target' "/etc/systemd/system/$unit"; then
    echo "configure.sh: $unit is still ordered before sysinit.target or network.target" >&2
    exit 1
  fi
done
# reenable: the links the packages made point at the packaged units; these point at the copies.
systemctl reenable systemd-resolved.service systemd-timesyncd.service
# sshd, used as packaged minus its After=network.target: it listens on the management addresses
# whether or not they are up yet (net.ipv4.ip_nonlocal_bind), and waiting for systemd-networkd's
# start put 2-4 s on the way to SSH under emulation (ssh.service.d/fullnat.conf starts it right
# after /data). A copy made from the installed unit, like resolved's and timesyncd's above.
sed -E '/^After=/s/network\.target ?//; /^After=/s/ +$//' /lib/systemd/system/ssh.service \
  >/etc/systemd/system/ssh.service
if grep -Eq '^After=.*network\.target' /etc/systemd/system/ssh.service ||
  ! grep -q '^ExecStart=/usr/sbin/sshd' /etc/systemd/system/ssh.service; then
  echo "configure.sh: ssh.service is not as expected after removing network.target" >&2
  exit 1
fi
systemctl reenable ssh.service
# No /run/nologin while booting: systemd-user-sessions.service removes it only after
# basic.target, and sshd, started right after /data, refused the admin's login until then
# ("Access denied ... by PAM account configuration"). The admin shell works from the start (it
# says so when the daemon is not up yet).
ln -sf /dev/null /etc/tmpfiles.d/systemd-nologin.conf
# Made at image build with the packages' users; nothing adds a system user at run time, and it
# ran at every boot (0.4-0.7 s) in the chain to udev and the data partition.
systemctl mask systemd-sysusers.service

# Nothing on the box needs these; they only cost boot time and disk writes. The modprobe@
# units load modules early that nothing here uses before the kernel would load them on demand
# (FUSE alone took 1.25 s of CPU under emulation, at the busiest moment of the boot).
systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
  fstrim.timer modprobe@fuse.service sys-fs-fuse-connections.mount modprobe@drm.service \
  modprobe@efi_pstore.service modprobe@dm_mod.service

# /etc/fstab (build.sh labels the partitions; a disk made another way must carry the labels).
# The root is whichever slot GRUB booted (root=LABEL=fullnat-root-a or -b, mounted rw by the
# kernel). /data is what both slots share: the daemon's state (configuration database, run
# state, provisioning record), SSH host keys, /home (the admin's authorized_keys) and the
# persistent journal; it grows to its partition (x-systemd.growfs), which the initramfs grows
# to the disk (scripts/local-premount/fullnat-grow-data). /boot/loader is GRUB's partition (grubenv).
# No boot-time fsck of /data (pass 0): ext4's journal replays at mount, and e2fsck before the
# mount sat in the chain to sshd (2.9 s under emulation).
mkdir -p /data /boot/loader /var/log/journal
cat >/etc/fstab <<'FSTAB'
LABEL=fullnat-data /data ext4 defaults,noatime,x-systemd.growfs 0 0
/data/fullnat /var/lib/fullnat none bind,x-systemd.requires-mounts-for=/data 0 0
/data/home /home none bind,x-systemd.requires-mounts-for=/data 0 0
/data/journal /var/log/journal none bind,x-systemd.requires-mounts-for=/data 0 0
LABEL=fullnat-boot /boot/loader ext2 defaults,noatime 0 0
FSTAB

# Generators for what the appliance has not got (encrypted, verity or integrity volumes, GPT
# auto-mounts, hibernation, SysV scripts: every service here has a native unit, rc.local,
# offline updates): each is a program systemd runs and waits for before it starts any unit,
# about 0.1-0.3 s apiece under emulation.
mkdir -p /etc/systemd/system-generators
for g in cryptsetup gpt-auto hibernate-resume integritysetup rc-local system-update sysv \
  veritysetup; do
  ln -sf /dev/null "/etc/systemd/system-generators/systemd-${g}-generator"
done

# Boot straight to the appliance's services, no graphical target.
systemctl set-default multi-user.target

# A small initramfs: only the drivers a VM's root disk may need (virtio, SCSI, NVMe, Xen,
# Hyper-V, VMware, IDE/AHCI) instead of "most" of them (hooks/fullnat-vm-drivers puts them
# in). Only virtio's are loaded at once (/etc/initramfs-tools/modules): QEMU/KVM's disk is
# found without waiting for udev's events; udev loads any other by its modalias when its
# device is there. Loading all ten one after the other took 2.5 s under emulation, and leaving
# virtio to udev too put 1-2 s back. virtio_net too: the NICs then exist when the system
# starts, and sshd (whose link-local listen address names the management port) does not wait
# for udev's second coldplug to make them (4-6 s under emulation).
echo 'MODULES=list' >/etc/initramfs-tools/conf.d/fullnat.conf
printf '%s\n' virtio_pci virtio_blk virtio_net >>/etc/initramfs-tools/modules
update-initramfs -u -k all

# --- GRUB for BIOS boot, laid out as grub-install would on (hd0,msdos1) -------------------------
# build.sh cannot run grub-install (it needs a block device); it writes boot.img and core.img
# from /boot/grub/i386-pc to the disk's first sectors instead, and moves /boot/grub to the boot
# partition (partition 1), whose root it becomes (/grub). The modules are copied beside
# core.img so both stay of one GRUB version.
mkdir -p /boot/grub/i386-pc
cp /usr/lib/grub/i386-pc/*.mod /usr/lib/grub/i386-pc/*.lst /usr/lib/grub/i386-pc/boot.img \
  /boot/grub/i386-pc/
# core.img lives in the gap between the MBR and the first partition, so it carries what it
# needs to find /grub on the boot partition: the BIOS disk driver, MBR partitions and ext2. The
# prefix names partition 1 of the drive the BIOS booted from, whatever number that drive has.
grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -o /boot/grub/i386-pc/core.img \
  -p '(,msdos1)/grub' biosdisk part_msdos ext2
# Two entries, one per root slot (partition 2 = a, 3 = b), each loading the kernel from its own
# slot's /boot: /vmlinuz and /initrd.img are the links Debian's kernel package keeps on the
# newest kernel. Which slot boots is in grubenv: fullnat_default, and next_entry for one boot of
# the other after `system upgrade` (cleared here before it boots, so the boot after that is the
# default again: a new slot that hangs or panics (panic=10 reboots) is left behind by itself).
# No menu (timeout 0): boot time counts; a slot whose kernel cannot load falls back at once.
cmdline="$(cat kernel-cmdline)"
cat >/boot/grub/grub.cfg <<CFG
# fullnat appliance (written by image/configure.sh). Serial console first: a VM often has no screen.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
insmod regexp
# \$root is the boot partition (hdN,msdos1): the slots are on the same disk.
regexp --set=1:disk '^([^,]+),' "\$root"
load_env
if [ -z "\$fullnat_default" ]; then set fullnat_default=a; fi
set default="slot-\$fullnat_default"
set fallback="slot-\$fullnat_default"
if [ -n "\$next_entry" ]; then
  set default="\$next_entry"
  set next_entry=
  save_env next_entry
fi
set timeout=0
set timeout_style=hidden
menuentry 'fullnat (slot a)' --id slot-a {
  echo 'fullnat: GRUB is loading Linux from slot a'
  linux (\$disk,msdos2)/vmlinuz root=LABEL=fullnat-root-a fullnat.slot=a ${cmdline}
  initrd (\$disk,msdos2)/initrd.img
}
menuentry 'fullnat (slot b)' --id slot-b {
  echo 'fullnat: GRUB is loading Linux from slot b'
  linux (\$disk,msdos3)/vmlinuz root=LABEL=fullnat-root-b fullnat.slot=b ${cmdline}
  initrd (\$disk,msdos3)/initrd.img
}
CFG

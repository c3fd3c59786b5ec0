#!/bin/sh
# Runs once inside the image build (image/Dockerfile), from the directory holding a copy of
# image/: puts the appliance's own files in place, makes the admin user and enables the units.
set -eu
cd "$(dirname "$0")"

cp -a rootfs/. /
chmod 0755 /usr/local/bin/fullnat /usr/local/bin/fullnat-login-shell /usr/local/bin/fullnat-ssh-fingerprints

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
rm -f /etc/ssh/ssh_host_*

# eth0, eth1 ... in the order the NICs appear, the names provisioning files use.
ln -sf /dev/null /etc/systemd/network/99-default.link

systemctl enable fullnat.service fullnat-ssh-hostkeys.service ssh.service
# Management access (sshd's addresses, host firewall, fallback address) and the host keys'
# fingerprints on the console: src/mgmt, README "Management access".
systemctl enable fullnat-mgmt.service fullnat-ssh-fingerprints.service
# Nothing on the box needs these; they only cost boot time and disk writes.
systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
  systemd-timesyncd.service fstrim.timer

# /etc/fstab: the root filesystem is labelled by build.sh; a disk made another way should
# carry the same label.
echo 'LABEL=fullnat-root / ext4 defaults,errors=remount-ro 0 1' >/etc/fstab

# Boot straight to the appliance's services, no graphical target.
systemctl set-default multi-user.target

# A small initramfs: only the drivers a VM's root disk needs (virtio, SCSI, NVMe, Xen, Hyper-V,
# VMware, IDE/AHCI) instead of "most" of them, which takes seconds to load under emulation.
echo 'MODULES=list' >/etc/initramfs-tools/conf.d/fullnat.conf
printf '%s\n' virtio_pci virtio_blk virtio_scsi sd_mod nvme ahci ata_piix xen_blkfront \
  hv_storvsc vmw_pvscsi >>/etc/initramfs-tools/modules
update-initramfs -u -k all

# --- GRUB for BIOS boot, laid out as grub-install would on (hd0,msdos1) -------------------------
# build.sh cannot run grub-install (it needs a block device); it writes boot.img and core.img
# from /boot/grub/i386-pc to the disk's first sectors instead. The modules are copied beside
# core.img so both stay of one GRUB version even when grub-pc-bin is upgraded later.
mkdir -p /boot/grub/i386-pc
cp /usr/lib/grub/i386-pc/*.mod /usr/lib/grub/i386-pc/*.lst /usr/lib/grub/i386-pc/boot.img \
  /boot/grub/i386-pc/
# core.img lives in the gap between the MBR and the first partition, so it carries what it
# needs to find /boot/grub: the BIOS disk driver, MBR partitions and ext4. The prefix names
# partition 1 of the drive the BIOS booted from, whatever number that drive has.
grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -o /boot/grub/i386-pc/core.img \
  -p '(,msdos1)/boot/grub' biosdisk part_msdos ext2
# The same kernel command line as direct kernel boot (build.sh's cmdline file). /vmlinuz and
# /initrd.img are the links Debian's kernel package keeps pointing at the newest kernel in /boot,
# so an upgraded kernel boots without rewriting this file; .old is the one before it.
cmdline="$(cat kernel-cmdline)"
cat >/boot/grub/grub.cfg <<CFG
# fullnat appliance (written by image/configure.sh). Serial console first: a VM often has no screen.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set default=0
set timeout=1
menuentry 'fullnat (Debian GNU/Linux)' {
  echo 'fullnat: GRUB is loading Linux from /boot'
  linux /vmlinuz ${cmdline}
  initrd /initrd.img
}
menuentry 'fullnat (Debian GNU/Linux, previous kernel)' {
  linux /vmlinuz.old ${cmdline}
  initrd /initrd.img.old
}
CFG

#!/bin/sh
# Runs once inside the image build (image/Dockerfile), from the directory holding a copy of
# image/: puts the appliance's own files in place, makes the admin user and enables the units.
set -eu
cd "$(dirname "$0")"

cp -a rootfs/. /
chmod 0755 /usr/local/bin/fullnat /usr/local/bin/fullnat-login-shell

# The daemon's control socket belongs to group fullnat (fullnat.service); the admin is in it.
groupadd --system fullnat
useradd --create-home --shell /usr/local/bin/fullnat-login-shell --groups fullnat admin
# "*": no password can match, yet the account is not locked, which sshd would refuse.
usermod -p '*' admin
echo /usr/local/bin/fullnat-login-shell >>/etc/shells

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

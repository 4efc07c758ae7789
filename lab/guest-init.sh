#!/bin/busybox sh
# /init of the lab's guests (built into the initramfs by lab/assets.ts).
#
# The guest has no root filesystem of its own: it mounts the host's / read-only over 9p and
# puts a tmpfs overlay on top, so node, iperf3, irqbalance and the built project are the
# host's own files, and whatever the guest writes stays in its RAM. Commands from the host
# arrive on a virtio-serial port named lab.ctl as "<id> <base64 script>" lines and are
# answered as "LAB-DONE <id> <exit code> <base64 output>": base64 keeps the channel
# 8-bit clean without any tty line discipline in the way.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Order matters: each module needs the ones before it (there is no modprobe here).
for m in $(cat /modules.order); do insmod "/lib/modules/$m.ko" || echo "lab: insmod $m failed"; done
# cache=loose: the host tree does not change while a guest runs, and it makes node start
# 3x faster than uncached 9p reads under TCG.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || echo "lab: mounting the host tree failed"
mount -t tmpfs -o size=256m tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || echo "lab: overlay failed"
for d in proc sys dev; do mount --bind "/$d" "/newroot/$d"; done
mount -t tmpfs tmpfs /newroot/tmp
mount -t tmpfs tmpfs /newroot/run
# A writable host directory that survives a guest reboot (the state-file scenario).
if grep -q labstate /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null; then
  mkdir -p /newroot/var/lib/affinityd
  mount -t 9p -o trans=virtio,version=9p2000.L labstate /newroot/var/lib/affinityd || echo "lab: mounting labstate failed"
fi
# The port's name reaches the guest in a virtio-serial control message some time after the
# device probed (under a loaded TCG host, seconds later): wait for it rather than race it.
port=
i=0
while [ -z "$port" ] && [ $i -lt 600 ]; do
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = lab.ctl ] && port="/dev/${p##*/}"
  done
  [ -n "$port" ] || { sleep 0.1; i=$((i+1)); }
done
[ -n "$port" ] || { echo "lab: no lab.ctl port after 60 s"; exec sh; }
exec 3<>"$port"
echo "LAB-READY $(cat /proc/sys/kernel/random/boot_id)" >&3
while read -r id b64 <&3; do
  echo "$b64" | base64 -d > /newroot/tmp/.lab-cmd
  chroot /newroot /bin/sh /tmp/.lab-cmd > /tmp/.lab-out 2>&1 < /dev/null
  rc=$?
  echo "LAB-DONE $id $rc $(base64 -w0 < /tmp/.lab-out)" >&3
done

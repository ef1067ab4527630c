#!/bin/busybox sh
# /init of the bpftools test guests (see docs/targets.md). It runs as PID 1
# from the initramfs and never returns: the host stops the guest by killing
# QEMU, and a panic powers it off (panic=-1 with -no-reboot).

/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
# --install resolves busybox through /proc/self/exe, hence after /proc.
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/ TERM=dumb

mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /dev/pts /dev/shm
hostname bpftools-guest

say() { echo "init: $*" > /dev/console; }

# Listed in dependency order at build time (busybox insmod does not resolve).
while read -r ko; do
  [ -n "$ko" ] && { insmod "/lib/modules/$ko" || say "insmod $ko failed"; }
done < /lib/modules/load-order

# The device nodes appear asynchronously after the drivers bind.
port_named() {
  for p in /sys/class/virtio-ports/*; do
    [ -r "$p/name" ] || continue
    read -r n < "$p/name"
    [ "$n" = "$1" ] && [ -e "/dev/${p##*/}" ] && { echo "${p##*/}"; return 0; }
  done
  return 1
}

# A read on a virtio port with no host gives EOF at once, so each server
# waits for the host to connect rather than spinning bpfd up and down.
host_connected() {
  f=/sys/kernel/debug/virtio-ports/$1
  [ -r "$f" ] || return 0
  while read -r k v; do
    [ "$k" = host_connected: ] && { [ "$v" = 1 ]; return; }
  done < "$f"
  return 1
}

# Every host connection gets a fresh bpfd. The port stays open here for
# good: closing it would discard unread input, which may already be the next
# host's hello; and a read from it gives EOF whenever no host is connected.
serve_bpfd() {
  exec 4<>"/dev/$1"
  while :; do
    until host_connected "$1"; do sleep 0.05; done
    # After a `quit` the host may still be there: the next bpfd then waits
    # for its end, or serves whoever connects next. (Input a vanished host
    # left unread is not drained: that could eat the next host's hello.)
    # Test-only: NAME=VALUE words in /tmp/bpfd.env (written through ctl,
    # e.g. BPFD_NO_PMU=1) are the environment of every bpfd started after.
    env $(cat /tmp/bpfd.env 2>/dev/null) /bin/bpfd <&4 >&4 2>/dev/console 4>&-
    # Without debugfs there is no telling whether a host is there: throttle.
    [ -r "/sys/kernel/debug/virtio-ports/$1" ] || sleep 0.1
  done
}

# Test-only: each line the host writes is run by sh with its output sent
# back, followed by a line "__CTL_DONE__ STATUS". The line
# "__CTL_PUT__ SIZE PATH" instead stores the SIZE bytes that follow it in
# PATH: read takes a byte at a time and dd with count_bytes no more than
# SIZE (head -c reads ahead), so the next line is left in the port. They
# are read into /tmp first, so a PATH that cannot be written still consumes
# them rather than leaving bytes to be run as lines.
serve_ctl() {
  exec 3<>"/dev/$1"
  while :; do
    until host_connected "$1"; do sleep 0.1; done
    while IFS= read -r line <&3; do
      case $line in
        "__CTL_PUT__ "*)
          size=${line#__CTL_PUT__ } path=${line#__CTL_PUT__ * }
          size=${size%% *}
          dd bs=65536 count="$size" iflag=count_bytes,fullblock of=/tmp/.ctl-put <&3 2>/dev/null
          [ "$(wc -c < /tmp/.ctl-put)" = "$size" ] && mv /tmp/.ctl-put "$path" 2>&3 ;;
        *) sh -c "$line" </dev/null >&3 2>&3 3>&- ;;
      esac
      printf '\n__CTL_DONE__ %d\n' "$?" >&3
    done
  done
}

# Test-only: a stand-in for an Android device's adbd (test/targets/bin/adb
# talks to it), when the host asks (bpftools.adb=1): TCP port 5555 behind
# QEMU's user network, forwarded from the host's 127.0.0.1. Each connection
# runs /sbin/adbd; commands run as the unprivileged user shell (uid 2000).
serve_adb() {
  ip link set lo up
  ip addr add 10.0.2.15/24 dev "$1"
  ip link set "$1" up
  echo 'shell:x:2000:2000:shell:/data/local/tmp:/bin/sh' >> /etc/passwd
  echo 'shell:x:2000:' >> /etc/group
  mkdir -p /data/local/tmp /system/bin /system/xbin
  chown 2000:2000 /data/local/tmp
  chmod 771 /data/local/tmp
  nc -ll -p 5555 -e /sbin/adbd 2>/dev/console &
}

i=0
until bpfd_port=$(port_named bpfd) && ctl_port=$(port_named ctl); do
  i=$((i + 1))
  if [ $i -gt 200 ]; then
    say "virtio ports 'bpfd' and 'ctl' did not appear; powering off"
    ls -l /sys/class/virtio-ports/ > /dev/console 2>&1
    poweroff -f
  fi
  sleep 0.05
done
serve_ctl "$ctl_port" &
if grep -qw bpftools.adb=1 /proc/cmdline; then
  i=0
  until [ -e /sys/class/net/eth0 ] || [ $i -gt 100 ]; do i=$((i + 1)); sleep 0.05; done
  if [ -e /sys/class/net/eth0 ]; then serve_adb eth0; else say "no network card for adbd"; fi
fi
say "bpfd on /dev/$bpfd_port, ctl on /dev/$ctl_port, $(cut -d' ' -f1 /proc/uptime) s after boot"
serve_bpfd "$bpfd_port"

#!/usr/bin/env bash
# Copy one file out of a guest file system as it was in a qcow2 snapshot, without writing to the
# image: mount the image directory with qsnapfs, attach the snapshot read-only with losetup, mount
# the guest file system read-only, copy, and clean up everything on the way out.
#
#   copy-file-from-snapshot.sh IMAGE_DIR IMAGE SNAPSHOT PATH_IN_GUEST OUT
#   e.g. copy-file-from-snapshot.sh /var/lib/libvirt/images web01.qcow2 nightly /etc/hostname ./hostname
#
# Needs root (losetup, mount). If the disk is partitioned, set PARTITION=N to use partition N.
set -euo pipefail
[ $# -eq 5 ] || { sed -n '2,9p' "$0"; exit 2; }
image_dir=$1 image=$2 snapshot=$3 guest_path=$4 out=$5
qsnapfs=${QSNAPFS:-$(command -v qsnapfs || echo "$(dirname "$0")/../target/qsnapfs")}

work=$(mktemp -d)
snaps=$work/snaps guest=$work/guest loop=
mkdir -p "$snaps" "$guest"
cleanup() {
  status=$?
  [ $status -ne 0 ] && [ -s "$work/qsnapfs.log" ] && { echo "qsnapfs server log:" >&2; cat "$work/qsnapfs.log" >&2; }
  mountpoint -q "$guest" && umount "$guest"
  [ -n "$loop" ] && losetup -d "$loop"
  mountpoint -q "$snaps" && "$qsnapfs" umount "$snaps"
  rm -rf "$work"
}
trap cleanup EXIT

"$qsnapfs" mount --log-file "$work/qsnapfs.log" "$image_dir" "$snaps"
raw=$snaps/$image/snapshots/$snapshot.raw
[ -e "$raw" ] || raw=$snaps/$image/by-id/$snapshot.raw
if [ -n "${PARTITION:-}" ]; then
  loop=$(losetup -r -P -f --show "$raw"); device=${loop}p$PARTITION
else
  loop=$(losetup -r -f --show "$raw"); device=$loop
fi
# noload: never replay a journal on evidence, even in memory
mount -o ro,noload "$device" "$guest" 2>/dev/null || mount -o ro "$device" "$guest"
cp -- "$guest/${guest_path#/}" "$out"
echo "copied $guest_path from $image snapshot $snapshot to $out"

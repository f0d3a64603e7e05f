#!/usr/bin/env bash
# The example in examples/ keeps working: it copies a file out of a snapshot's ext4.
source "$(dirname "$0")/lib.bash"
need losetup mkfs.ext4 mount mountpoint
D=$T/images G=$T/guest; mkdir -p "$D" "$G"
truncate -s 32M "$T/fs.raw"
mkfs.ext4 -q -F "$T/fs.raw"
loop=$(losetup -f --show "$T/fs.raw"); CLEANUP_LOOPS+=("$loop")
mount "$loop" "$G"; CLEANUP_MOUNTS+=("$G")
mkdir -p "$G/etc"; echo "web01" > "$G/etc/hostname"
umount "$G"; losetup -d "$loop"
qemu-img convert -O qcow2 "$T/fs.raw" "$D/web01.qcow2"
qemu-img snapshot -c nightly "$D/web01.qcow2"
qemu-io -f qcow2 -c 'write -P 0 0 32M' "$D/web01.qcow2" >/dev/null   # the live disk moves on
mounts_before=$(grep -c ' - fuse.qsnapfs ' /proc/self/mountinfo || true)
QSNAPFS="$QS" "$ROOT/examples/copy-file-from-snapshot.sh" "$D" web01.qcow2 nightly /etc/hostname "$T/hostname"
assert_eq "$(cat "$T/hostname")" "web01" "file copied out of the snapshot"
assert_eq "$(grep -c ' - fuse.qsnapfs ' /proc/self/mountinfo || true)" "$mounts_before" "qsnapfs mounts after the example"
echo "example: ok"

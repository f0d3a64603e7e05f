#!/usr/bin/env bash
# A forensic read: attach a snapshot holding ext4 with losetup -r, mount it read-only, and find the
# files as they were when the snapshot was taken; the image is never written.
source "$(dirname "$0")/lib.bash"
need losetup mkfs.ext4 mount
D=$T/images; M=$T/mnt; G=$T/guest; mkdir -p "$D" "$M" "$G"
qemu-img create -q -f qcow2 "$D/disk.qcow2" 64M
# Build the guest file system in a raw file, then write it into the qcow2 image through qemu-io.
truncate -s 64M "$T/fs.raw"
mkfs.ext4 -q -F "$T/fs.raw"
loop=$(losetup -f --show "$T/fs.raw"); CLEANUP_LOOPS+=("$loop")
mount "$loop" "$G"; CLEANUP_MOUNTS+=("$G")
head -c 3M /dev/urandom > "$G/evidence.bin"
echo "first version" > "$G/note.txt"
want=$(sum "$G/evidence.bin")
umount "$G"; losetup -d "$loop"
qemu-img convert -O qcow2 "$T/fs.raw" "$D/disk.qcow2"
qemu-img snapshot -c before "$D/disk.qcow2"
# change the active layer afterwards: the snapshot must not see it
qemu-io -f qcow2 -c 'write -P 0xff 0 64M' "$D/disk.qcow2" >/dev/null
before=$(sum "$D/disk.qcow2")

qs_mount "$D" "$M"
loop=$(losetup -r -f --show "$M/disk.qcow2/snapshots/before.raw"); CLEANUP_LOOPS+=("$loop")
mount -o ro "$loop" "$G"
assert_eq "$(sum "$G/evidence.bin")" "$want" "file read from the snapshot's ext4"
assert_eq "$(cat "$G/note.txt")" "first version" "small file read from the snapshot's ext4"
umount "$G"; losetup -d "$loop"
assert_eq "$(sum "$D/disk.qcow2")" "$before" "evidence image unchanged"
echo "mount-losetup: ok"

#!/usr/bin/env bash
# Every snapshot file of a mounted directory has exactly QEMU's bytes, the attributes the brief
# promises, and the snapshots/ vs by-id/ naming rules hold.
source "$(dirname "$0")/lib.bash"
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"

# 64K clusters with a compressed cluster, zero clusters and a discard
qemu-img create -q -f qcow2 "$D/web01.qcow2" 64M
qemu-io -f qcow2 -c 'write -P 0x11 0 4M' -c 'write -c -P 0x22 8M 64k' -c 'write -z 1M 64k' "$D/web01.qcow2" >/dev/null
qemu-img snapshot -c nightly "$D/web01.qcow2"
qemu-io -f qcow2 -c 'write -P 0x33 2M 3M' -c 'discard 0 64k' "$D/web01.qcow2" >/dev/null
qemu-img snapshot -c 'with space é' "$D/web01.qcow2"
qemu-img snapshot -c dup "$D/web01.qcow2"
qemu-io -f qcow2 -c 'write -P 0x44 0 1M' "$D/web01.qcow2" >/dev/null
qemu-img snapshot -c dup "$D/web01.qcow2"
qemu-img snapshot -c '..' "$D/web01.qcow2"
# 512-byte clusters, zstd, extended L2 over a backing file in the same directory
qemu-img create -q -f qcow2 -o cluster_size=512 "$D/base.qcow2" 16M
qemu-io -f qcow2 -c 'write -P 0x55 0 16M' "$D/base.qcow2" >/dev/null
qemu-img create -q -f qcow2 -o compression_type=zstd,extended_l2=on,cluster_size=64k -b base.qcow2 -F qcow2 "$D/db.qcow2" 32M
qemu-io -f qcow2 -c 'write -P 0x66 4k 4k' -c 'write -c -P 0x77 1M 64k' -c 'write -z 8M 2k' "$D/db.qcow2" >/dev/null
qemu-img snapshot -c first "$D/db.qcow2"
qemu-img resize -q "$D/db.qcow2" 48M
qemu-io -f qcow2 -c 'write -P 0x88 40M 1M' "$D/db.qcow2" >/dev/null
qemu-img snapshot -c after-resize "$D/db.qcow2"
echo "not an image" > "$D/notes.txt"

qs_mount "$D" "$M"

assert_eq "$(ls "$M" | tr '\n' ' ')" "base.qcow2 db.qcow2 web01.qcow2 " "image directories (notes.txt is not qcow2)"
assert_eq "$(ls "$M/web01.qcow2" | tr '\n' ' ')" "by-id control snapshots vm-state " "image directory layout"
assert_eq "$(ls "$M/web01.qcow2/vm-state" | tr '\n' ' ')" "" "vm-state/: no savevm snapshot, empty"
assert_eq "$(ls "$M/web01.qcow2/by-id" | tr '\n' ' ')" "1.raw 2.raw 3.raw 4.raw 5.raw " "by-id lists every snapshot"
# 'dup' is shared by two snapshots and '..' is no safe file name: by-id only
assert_eq "$(ls "$M/web01.qcow2/snapshots" | tr '\n' '|')" "nightly.raw|with space é.raw|" "snapshots/ names"

# qemu-img convert -l writes the image's current size; a snapshot taken before a resize is its own,
# smaller disk here: compare that much, and QEMU's padding beyond it must be zeros.
for img in web01 db base; do
  ids=$(qemu-img snapshot -l "$D/$img.qcow2" | awk 'NR>2 {print $1}')
  for id in $ids; do
    oracle "$D/$img.qcow2" "$id" "$T/expected.raw"
    f="$M/$img.qcow2/by-id/$id.raw"; size=$(stat -c %s "$f")
    assert_eq "$(sum "$f")" "$(head -c "$size" "$T/expected.raw" | sha256sum | cut -d' ' -f1)" "$img snapshot $id bytes"
    pad=$(( $(stat -c %s "$T/expected.raw") - size ))
    [ "$pad" -ge 0 ] || fail "$img snapshot $id is larger than QEMU's output"
    cmp -s <(tail -c "$pad" "$T/expected.raw") <(head -c "$pad" /dev/zero) || fail "$img snapshot $id: QEMU's padding is not zeros"
  done
done
cmp "$M/web01.qcow2/snapshots/nightly.raw" "$M/web01.qcow2/by-id/1.raw" || fail "name and id views differ"

# attributes: 0444, size of the snapshot's own disk, mtime = snapshot date, blocks set
f="$M/db.qcow2/by-id/1.raw"
assert_eq "$(stat -c %a "$f")" "444" "snapshot file mode"
assert_eq "$(stat -c %s "$f")" "33554432" "size of the snapshot taken before the resize"
assert_eq "$(stat -c %s "$M/db.qcow2/by-id/2.raw")" "50331648" "size of the snapshot taken after the resize"
date_sec=$(qemu-img info --output=json "$D/db.qcow2" | grep -m1 '"date-sec"' | tr -dc 0-9)
assert_eq "$(stat -c %Y "$f")" "$date_sec" "snapshot file mtime"
[ "$(stat -c %b "$f")" -gt 0 ] || fail "st_blocks not set"
assert_eq "$(stat -c %a "$M/db.qcow2/control/create")" "755" "request directory mode"

# reads at odd offsets and lengths through the page cache and around it
dd if="$M/web01.qcow2/by-id/2.raw" of="$T/part" bs=4097 skip=333 count=77 status=none
oracle "$D/web01.qcow2" 2 "$T/two.raw"
dd if="$T/two.raw" of="$T/part.expected" bs=4097 skip=333 count=77 status=none
cmp "$T/part" "$T/part.expected" || fail "odd-offset read differs"

# df: the image directory's file system, where snapshots take their space
size=$(df -B1 --output=size "$D" | tail -1)
assert_eq "$(df -B1 --output=size "$M" | tail -1 | tr -d ' ')" "$(( size / 4096 * 4096 ))" "df size of the mount"
[ "$(df -B1 --output=avail "$M" | tail -1)" -gt 0 ] || fail "df shows nothing available: $(df "$M")"
echo "mount-read: ok"

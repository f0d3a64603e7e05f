#!/usr/bin/env bash
# Nothing outside control/ can be changed, also for root; every write path is refused.
source "$(dirname "$0")/lib.bash"
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"
qemu-img create -q -f qcow2 "$D/vm.qcow2" 8M
qemu-io -f qcow2 -c 'write -P 0x11 0 1M' "$D/vm.qcow2" >/dev/null
qemu-img snapshot -c snap "$D/vm.qcow2"
before=$(sum "$D/vm.qcow2")
qs_mount "$D" "$M"
S="$M/vm.qcow2/snapshots/snap.raw"
RO="Read-only file system"
expect_fail "$RO" sh -c "echo x > '$S'"
expect_fail "$RO" sh -c "echo x >> '$S'"
expect_fail "$RO" dd if=/dev/zero of="$S" bs=512 count=1 conv=notrunc status=none
expect_fail "$RO" truncate -s 0 "$S"
expect_fail "$RO" rm -f "$S"
expect_fail "$RO" chmod 666 "$S"
expect_fail "$RO" chown nobody "$S"
expect_fail "$RO" mv "$S" "$M/vm.qcow2/snapshots/other.raw"
expect_fail "$RO" touch "$S"
expect_fail "$RO" touch "$M/vm.qcow2/snapshots/new.raw"
expect_fail "$RO" mkdir "$M/vm.qcow2/newdir"
expect_fail "$RO" mkdir "$M/newdir"
expect_fail "$RO" ln -s x "$M/vm.qcow2/link"
expect_fail "$RO" rm -rf "$M/vm.qcow2/by-id"
expect_fail "$RO" rmdir "$M/vm.qcow2/control/create"
expect_fail "$RO" sh -c "echo x > '$M/vm.qcow2/control/log'"
assert_eq "$(ls "$M/vm.qcow2/snapshots")" "snap.raw" "snapshot still there"
assert_eq "$(sum "$D/vm.qcow2")" "$before" "image unchanged"
echo "mount-readonly: ok"

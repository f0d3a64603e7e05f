#!/usr/bin/env bash
# A broken image does not stop the others from being served; a read error returns EIO, never
# zeros, and the reason is in control/log.
source "$(dirname "$0")/lib.bash"
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"
qemu-img create -q -f qcow2 "$D/good.qcow2" 8M
qemu-io -f qcow2 -c 'write -P 0x11 0 2M' "$D/good.qcow2" >/dev/null
qemu-img snapshot -c a "$D/good.qcow2"
qemu-img snapshot -c b "$D/good.qcow2"
# bad magic after the first bytes: qcow2 by magic, but cluster_bits is absurd
qemu-img create -q -f qcow2 "$D/broken.qcow2" 8M
printf '\x00\x00\x00\x40' | dd of="$D/broken.qcow2" bs=1 seek=20 conv=notrunc status=none
# unknown incompatible feature bit 20
qemu-img create -q -f qcow2 "$D/future.qcow2" 8M
printf '\x00\x10\x00\x00' | dd of="$D/future.qcow2" bs=1 seek=76 conv=notrunc status=none

u64() { echo $((16#$(od -An -tx1 -j "$2" -N8 "$1" | tr -d ' \n'))); }
# point snapshot 1's first L1 entry at an L2 table far beyond the end of the file
snap_table=$(u64 "$D/good.qcow2" 64)
l1=$(u64 "$D/good.qcow2" "$snap_table")
printf '\x80\x00\x00\x10\x00\x00\x00\x00' | dd of="$D/good.qcow2" bs=1 seek="$l1" conv=notrunc status=none

qs_mount "$D" "$M"
assert_eq "$(ls "$M" | tr '\n' ' ')" "good.qcow2 " "only the readable image is listed"
log=$(cat "$M/good.qcow2/control/log")
case "$log" in *broken.qcow2*cluster_bits*) ;; *) fail "log does not explain broken.qcow2: $log";; esac
case "$log" in *future.qcow2*"incompatible feature"*) ;; *) fail "log does not explain future.qcow2: $log";; esac

expect_fail "Input/output error" dd if="$M/good.qcow2/by-id/1.raw" of=/dev/null bs=64k count=1 status=none
case "$(cat "$M/good.qcow2/control/log")" in *"L2 table"*"beyond the end of the file"*) ;;
  *) fail "log does not give the read error's reason";; esac
oracle "$D/good.qcow2" 2 "$T/b.raw"
cmp "$M/good.qcow2/snapshots/b.raw" "$T/b.raw" || fail "the intact snapshot of the damaged image"
echo "mount-broken: ok"

#!/usr/bin/env bash
# Changes by other programs show up without remounting: snapshots created and deleted by
# qemu-img, images copied in and removed.
source "$(dirname "$0")/lib.bash"
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"
qemu-img create -q -f qcow2 "$D/a.qcow2" 8M
qemu-io -f qcow2 -c 'write -P 0x11 0 1M' "$D/a.qcow2" >/dev/null
qemu-img snapshot -c one "$D/a.qcow2"
qs_mount "$D" "$M"
assert_eq "$(ls "$M/a.qcow2/snapshots" | tr '\n' ' ')" "one.raw " "initial listing"
cat "$M/a.qcow2/snapshots/one.raw" > /dev/null

# waits up to 1.5 s (the promise is a second) for a listing to become what it should
eventually() {
  local want=$1 dir=$2 what=$3 i
  for i in $(seq 1 15); do
    [ "$(ls "$dir" 2>/dev/null | tr '\n' ' ')" = "$want" ] && return 0
    sleep 0.1
  done
  fail "$what: listing of $dir is '$(ls "$dir" | tr '\n' ' ')', expected '$want'"
}

qemu-io -f qcow2 -c 'write -P 0x22 0 1M' "$D/a.qcow2" >/dev/null
qemu-img snapshot -c two "$D/a.qcow2"
eventually "one.raw two.raw " "$M/a.qcow2/snapshots" "snapshot created by qemu-img"
oracle "$D/a.qcow2" 2 "$T/two.raw"
cmp "$M/a.qcow2/snapshots/two.raw" "$T/two.raw" || fail "new snapshot's bytes"

qemu-img snapshot -d one "$D/a.qcow2"
eventually "two.raw " "$M/a.qcow2/snapshots" "snapshot deleted by qemu-img"

cp "$D/a.qcow2" "$D/copy.qcow2"
eventually "a.qcow2 copy.qcow2 " "$M" "image copied in"
cmp "$M/copy.qcow2/snapshots/two.raw" "$T/two.raw" || fail "copied image's snapshot bytes"
rm "$D/copy.qcow2"
eventually "a.qcow2 " "$M" "image removed"
echo "mount-refresh: ok"

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

# a snapshot deleted by another program while it is open here: its clusters may be reused, so
# reads that reach the server fail (EIO, with the reason in the log) instead of serving them.
# Nothing of it is in the page cache yet, which could still answer with the true old bytes.
exec 3< "$M/a.qcow2/snapshots/one.raw"
qemu-img snapshot -d one "$D/a.qcow2"
qemu-io -f qcow2 -c 'write -P 0x33 0 4M' "$D/a.qcow2" >/dev/null
eventually "two.raw " "$M/a.qcow2/snapshots" "snapshot deleted by qemu-img"
sleep 0.3 # an open file looks again at most every 0.1 s
if err=$( { read -r -N 16 x <&3; } 2>&1 ); then
  fail "read of a snapshot deleted while open succeeded"
fi
case $err in *"Input/output error"*) ;; *) fail "read of a deleted snapshot: '$err', expected EIO" ;; esac
exec 3<&-
grep -q "snapshot 'one' (ID 1) was deleted by another program while this file was open" "$M/a.qcow2/control/log" \
  || fail "no reason in the log: $(cat "$M/a.qcow2/control/log")"

cp "$D/a.qcow2" "$D/copy.qcow2"
eventually "a.qcow2 copy.qcow2 " "$M" "image copied in"
cmp "$M/copy.qcow2/snapshots/two.raw" "$T/two.raw" || fail "copied image's snapshot bytes"
rm "$D/copy.qcow2"
eventually "a.qcow2 " "$M" "image removed"
echo "mount-refresh: ok"

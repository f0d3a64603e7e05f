#!/usr/bin/env bash
# No stale names: the kernel caches looked-up names (and here, with long timeouts, also their
# absence and attributes for a minute), and the server drops them as soon as a request or another
# program changes the snapshots. fstat of an open file whose name is gone answers from the file.
source "$(dirname "$0")/lib.bash"
need python3
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"
qemu-img create -q -f qcow2 "$D/a.qcow2" 8M
qemu-io -f qcow2 -c 'write -P 0x11 0 1M' "$D/a.qcow2" >/dev/null
for s in one two gone; do qemu-img snapshot -c "$s" "$D/a.qcow2"; done
# everything the kernel learns it may keep for 60 s: only notifications can make it forget
qs_mount "$D" "$M" -o entry_timeout=60,negative_timeout=60,attr_timeout=60
S=$M/a.qcow2/snapshots; B=$M/a.qcow2/by-id

exists() { stat -c %s "$1" >/dev/null 2>&1; }
# within SECONDS (tenths) PATH must come to exist (want=1) or be gone (want=0)
within() {
  local tenths=$1 want=$2 path=$3 what=$4 i
  for i in $(seq 0 "$tenths"); do
    if exists "$path"; then [ "$want" = 1 ] && return 0; else [ "$want" = 0 ] && return 0; fi
    sleep 0.1
  done
  fail "$what: $path $( [ "$want" = 1 ] && echo 'did not appear' || echo 'is still there')"
}

# requests: the change is visible as soon as touch returns
exists "$S/two.raw" || fail "two.raw before the delete"
exists "$B/2.raw" || fail "by-id/2.raw before the delete"
touch "$M/a.qcow2/control/delete/two"
exists "$S/two.raw" && fail "stat of snapshots/two.raw succeeds right after its delete"
exists "$B/2.raw" && fail "stat of by-id/2.raw succeeds right after its delete"
exists "$S/three.raw" && fail "three.raw before its create"
touch "$M/a.qcow2/control/create/three"
exists "$S/three.raw" || fail "stat of snapshots/three.raw fails right after its create"

# another program: seen at the next refresh (0.5 s), long before the kernel's 60 s
exists "$S/one.raw" || fail "one.raw before qemu-img deletes it"
qemu-img snapshot -d one "$D/a.qcow2"
within 20 0 "$S/one.raw" "qemu-img snapshot -d"
within 20 0 "$B/1.raw" "qemu-img snapshot -d (by-id)"
exists "$S/four.raw" && fail "four.raw before qemu-img creates it"
qemu-img snapshot -c four "$D/a.qcow2"
within 20 1 "$S/four.raw" "qemu-img snapshot -c"

# a name that comes to mean another snapshot shows the new one's attributes: the highest ID is
# deleted and given again to a snapshot of the image grown to 16M
id=$(qemu-img snapshot -l "$D/a.qcow2" | awk '$2 == "four" {print $1}')
assert_eq "$(stat -c %s "$B/$id.raw")" "8388608" "by-id/$id.raw before"
qemu-img snapshot -d four "$D/a.qcow2"
qemu-img resize -q "$D/a.qcow2" 16M
qemu-img snapshot -c five "$D/a.qcow2"
for i in $(seq 0 20); do
  [ "$(stat -c %s "$B/$id.raw" 2>/dev/null)" = 16777216 ] && break
  [ "$i" = 20 ] && fail "by-id/$id.raw still shows the old snapshot's size: $(stat -c %s "$B/$id.raw")"
  sleep 0.1
done

# fstat of an open file whose snapshot another program deleted: the file's own size; reads fail
# with EIO (its clusters may hold other data now), and dd gets that far
exec 3< "$S/gone.raw"
size=$(python3 -c 'import os; print(os.fstat(3).st_size)')
assert_eq "$size" "8388608" "fstat before the delete"
qemu-img snapshot -d gone "$D/a.qcow2"
within 20 0 "$S/gone.raw" "qemu-img snapshot -d gone"
sleep 0.2 # an open file looks again at most every 0.1 s
size=$(python3 -c 'import os; print(os.fstat(3).st_size)' 2>&1) || fail "fstat after the delete: $size"
assert_eq "$size" "8388608" "fstat of the open file after its name is gone"
if err=$(dd bs=64k count=1 status=none of=/dev/null <&3 2>&1); then fail "dd of a deleted snapshot succeeded"; fi
case $err in *"Input/output error"*) ;; *) fail "dd of a deleted snapshot: '$err', expected EIO" ;; esac
exec 3<&-

# the same after the image is renamed: the open file goes on serving its bytes
oracle "$D/a.qcow2" "$(qemu-img snapshot -l "$D/a.qcow2" | awk '$2 == "three" {print $1}')" "$T/three.raw"
exec 3< "$S/three.raw"
mv "$D/a.qcow2" "$D/b.qcow2"
within 20 0 "$S/three.raw" "image renamed"
size=$(python3 -c 'import os; print(os.fstat(3).st_size)' 2>&1) || fail "fstat after the rename: $size"
assert_eq "$size" "8388608" "fstat of the open file after the image's rename"
cmp - <(head -c 8388608 "$T/three.raw") <&3 || fail "bytes of the open file after the image's rename"
exec 3<&-
within 20 1 "$M/b.qcow2/snapshots/three.raw" "renamed image"
echo "mount-names: ok"

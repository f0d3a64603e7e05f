#!/usr/bin/env bash
# The VM state of snapshots a real QEMU saved (savevm on its monitor, while the directory is
# mounted) through a real mount: vm-state/ID.vmstate is cmp-equal to qsnapfs export --vm-state,
# starts with QEMU's migration stream magic, has qemu-img's VM state size and the snapshot's date,
# is read-only, holds its snapshot against a delete request, and fails with EIO once another
# program deleted its snapshot. Names come and go at once although the kernel may cache them,
# and their absence, for a minute. (The bytes against the independent walker: VmStateFilesTest and
# ExportVmStateTest in JUnit.)
source "$(dirname "$0")/lib.bash"
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"
qemu-img create -q -f qcow2 "$D/vm.qcow2" 16M
qemu-io -f qcow2 -c 'write -P 0x11 0 1M' "$D/vm.qcow2" >/dev/null
qemu-img snapshot -c diskonly "$D/vm.qcow2"
qs_mount "$D" "$M" -o entry_timeout=60,negative_timeout=60,attr_timeout=60
V=$M/vm.qcow2/vm-state
exists() { stat -c %s "$1" >/dev/null 2>&1; }
# within TENTHS PATH must come to exist (want=1) or be gone (want=0)
within() {
  local tenths=$1 want=$2 path=$3 what=$4 i
  for i in $(seq 0 "$tenths"); do
    if exists "$path"; then [ "$want" = 1 ] && return 0; else [ "$want" = 0 ] && return 0; fi
    sleep 0.1
  done
  fail "$what: $path $( [ "$want" = 1 ] && echo 'did not appear' || echo 'is still there')"
}
assert_eq "$(ls "$M/vm.qcow2" | tr '\n' ' ')" "by-id control snapshots vm-state " "image directory"
assert_eq "$(ls "$V" | tr '\n' ' ')" "" "no VM state before savevm"
exists "$V/2.vmstate" && fail "2.vmstate before savevm" # and the kernel may now remember it is not there

vm_start "$D/vm.qcow2"
hmp "savevm one" "qemu-io drive0 \"write -P 0x22 0 64k\"" "savevm two" "savevm three" >/dev/null
# the mount shows new snapshots within a second, also while QEMU has the image open
within 20 1 "$V/2.vmstate" "savevm one"
within 20 1 "$V/4.vmstate" "savevm three"
assert_eq "$(ls "$V" | tr '\n' ' ')" "2.vmstate 3.vmstate 4.vmstate " "savevm snapshots"
vm_quit

# qemu-img's facts about snapshot ID: VM state size and date (seconds)
fact() { qemu-img info --output=json "$D/vm.qcow2" \
  | python3 -c 'import json,sys; s=[s for s in json.load(sys.stdin)["snapshots"] if s["id"]==sys.argv[1]][0]; print(s[sys.argv[2]])' "$1" "$2"; }

# held open before anything reads it, so no page of it is cached when its snapshot goes
exec 3< "$V/2.vmstate"

for id in 3 4; do
  f=$V/$id.vmstate
  "$QS" export "$D/vm.qcow2" --snapshot "$id" --vm-state "$T/$id.vmstate"
  cmp "$f" "$T/$id.vmstate" || fail "vm-state/$id.vmstate differs from export --vm-state"
  "$QS" export "$D/vm.qcow2" -s "$id" --vm-state - | cmp - "$f" || fail "export --vm-state - of $id"
  assert_eq "$(head -c 4 "$f")" "QEVM" "$id.vmstate: QEMU's migration stream magic"
  assert_eq "$(stat -c %s "$f")" "$(fact "$id" vm-state-size)" "$id.vmstate: size"
  assert_eq "$(stat -c %Y "$f")" "$(fact "$id" date-sec)" "$id.vmstate: mtime"
  assert_eq "$(stat -c %a "$f")" "444" "$id.vmstate: mode"
done
cmp -s "$V/3.vmstate" "$V/4.vmstate" && fail "two savevms, the same VM state"
expect_fail "has no VM state" "$QS" export "$D/vm.qcow2" -s diskonly --vm-state "$T/none"

# read-only, like everything else
expect_fail "Read-only file system" sh -c "echo x >> '$V/3.vmstate'"
expect_fail "Read-only file system" touch "$V/new.vmstate"
expect_fail "Read-only file system" rm "$V/3.vmstate"
expect_fail "Read-only file system" truncate -s 0 "$V/3.vmstate"

# an open VM state file holds its snapshot against a delete request
exec 4< "$V/4.vmstate"
expect_fail "Device or resource busy" touch "$M/vm.qcow2/control/delete/three"
exec 4<&-
sleep 0.3 # the kernel sends the release asynchronously
touch "$M/vm.qcow2/control/delete/three"
exists "$V/4.vmstate" && fail "stat of vm-state/4.vmstate succeeds right after its delete request"
assert_eq "$(ls "$V" | tr '\n' ' ')" "2.vmstate 3.vmstate " "after the delete request"

# deleted by another program while open here: reads fail with EIO, with the reason in the log
qemu-img snapshot -d one "$D/vm.qcow2"
qemu-io -f qcow2 -c 'write -P 0x33 0 8M' "$D/vm.qcow2" >/dev/null
within 20 0 "$V/2.vmstate" "qemu-img snapshot -d one"
assert_eq "$(ls "$V" | tr '\n' ' ')" "3.vmstate " "after qemu-img snapshot -d one"
sleep 0.3 # an open file looks again at most every 0.1 s
if err=$( { read -r -N 16 x <&3; } 2>&1 ); then
  fail "read of a VM state whose snapshot was deleted while open succeeded"
fi
case $err in *"Input/output error"*) ;; *) fail "read of a deleted snapshot's VM state: '$err', expected EIO" ;; esac
exec 3<&-
grep -q "snapshot 'one' (ID 2) was deleted by another program while this file was open" "$M/vm.qcow2/control/log" \
  || fail "no reason in the log: $(cat "$M/vm.qcow2/control/log")"
qemu-img check -q "$D/vm.qcow2" || fail "qemu-img check"
echo "mount-vmstate: ok"

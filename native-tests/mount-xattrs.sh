#!/usr/bin/env bash
# Snapshot files carry the snapshot's facts as extended attributes: getfattr -d shows exactly the
# user.qsnapfs.* names, each value agrees with qemu-img snapshot -l and qemu-img info (savevm
# snapshots with a VM state and a VM clock, disk-only ones with an icount), exclusive_bytes with
# qsnapfs snapshot list; listxattr agrees with getxattr, size probes and too small buffers
# (ERANGE) answer as the kernel expects, nothing else in the mount has attributes, and setting or
# removing one is refused. After a request the attributes describe the new state of the image.
source "$(dirname "$0")/lib.bash"
need getfattr setfattr python3 qemu-system-x86_64
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"

# savevm snapshots: a VM state after the disk area, a VM clock, no icount
qemu-img create -q -f qcow2 "$D/vm.qcow2" 64M
qemu-io -f qcow2 -c 'write -P 0x11 0 4M' "$D/vm.qcow2" >/dev/null
vm_start "$D/vm.qcow2"   # runs from the start, so the snapshot has a VM clock
sleep 0.3
hmp stop 'savevm running' >/dev/null
vm_quit
qemu-io -f qcow2 -c 'write -P 0x12 1M 2M' "$D/vm.qcow2" >/dev/null
qemu-img snapshot -c disk-only "$D/vm.qcow2"
qemu-io -f qcow2 -c 'write -P 0x13 0 2M' "$D/vm.qcow2" >/dev/null
# disk-only snapshots over compressed clusters and extended L2 entries, one taken twice in a row
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=128k "$D/db.qcow2" 32M
qemu-io -f qcow2 -c 'write -P 0x21 0 1M' -c 'write -c -P 0x22 4M 128k' -c 'write -P 0x23 8M 12k' "$D/db.qcow2" >/dev/null
qemu-img snapshot -c first "$D/db.qcow2"
qemu-img snapshot -c twin "$D/db.qcow2"
qemu-io -f qcow2 -c 'write -P 0x24 0 1M' -c 'discard 4M 128k' "$D/db.qcow2" >/dev/null
qemu-img snapshot -c last "$D/db.qcow2"

qs_mount "$D" "$M"

# facts IMAGE ID: "vm_state_size date_sec date_nsec vm_clock_nsec icount" as qemu-img info says (icount: - if none)
facts() {
  qemu-img info --output=json "$1" | python3 -c '
import json, sys
for s in json.load(sys.stdin)["snapshots"]:
    if s["id"] == sys.argv[1]:
        print(s["vm-state-size"], s["date-sec"], s["date-nsec"], s["vm-clock-sec"] * 10**9 + s["vm-clock-nsec"],
              s.get("icount", "-"))' "$2"
}
# x FILE NAME: the value of user.qsnapfs.NAME
x() { getfattr --absolute-names --only-values -n "user.qsnapfs.$2" "$1" || fail "getfattr -n user.qsnapfs.$2 $1"; }
# exclusive IMAGE ID: exclusive_bytes as qsnapfs snapshot list --output json says
exclusive() {
  "$QS" snapshot list --output json "$1" | python3 -c '
import json, sys
print([s["exclusive_bytes"] for s in json.load(sys.stdin)["snapshots"] if s["id"] == sys.argv[1]][0])' "$2"
}

for img in vm db; do
  # ID TAG VM-SIZE(2 words) DATE(2 words) VM-CLOCK [ICOUNT], in UTC
  TZ=UTC qemu-img snapshot -l "$D/$img.qcow2" | tail -n +3 > "$T/list"
  while read -r id tag _ _ day time clock icount; do
    for f in "$M/$img.qcow2/by-id/$id.raw" "$M/$img.qcow2/snapshots/$tag.raw"; do
      read -r vmsize sec nsec clock_ns json_icount <<<"$(facts "$D/$img.qcow2" "$id")"
      names="date disk_size exclusive_bytes icount id name vm_clock vm_state_size"
      [ -n "$icount" ] || names=${names/icount /}
      assert_eq "$(getfattr -d --absolute-names "$f" | sed -n 's/^user\.qsnapfs\.\([a-z_]*\)=.*/\1/p' | tr '\n' ' ')" \
        "$names " "$f: getfattr -d names"
      assert_eq "$(x "$f" id)" "$id" "$f: id"
      assert_eq "$(x "$f" name)" "$tag" "$f: name"
      d=$(x "$f" date)
      assert_eq "$(date -u -d "$d" '+%F %T')" "$day $time" "$f: date $d against qemu-img snapshot -l"
      assert_eq "$(date -u -d "$d" +%s%N)" "$sec$(printf %09d "$nsec")" "$f: date $d to the nanosecond"
      c=$(x "$f" vm_clock)
      assert_eq "$c" "$clock_ns" "$f: vm_clock"
      ms=$((c / 1000000))
      assert_eq "$(printf '%02d:%02d:%02d.%03d' $((ms / 3600000)) $((ms / 60000 % 60)) $((ms / 1000 % 60)) $((ms % 1000)))" \
        "$clock" "$f: vm_clock $c against qemu-img snapshot -l"
      assert_eq "$(x "$f" vm_state_size)" "$vmsize" "$f: vm_state_size"
      assert_eq "$(x "$f" disk_size)" "$(stat -c %s "$f")" "$f: disk_size"
      if [ -n "$icount" ]; then
        assert_eq "$(x "$f" icount)" "$icount" "$f: icount"
        assert_eq "$json_icount" "$icount" "qemu-img info's icount"
      else
        expect_fail "No such attribute" getfattr --absolute-names -n user.qsnapfs.icount "$f"
      fi
      assert_eq "$(x "$f" exclusive_bytes)" "$(exclusive "$D/$img.qcow2" "$id")" "$f: exclusive_bytes"
    done
  done < "$T/list"
done
[ "$(x "$M/vm.qcow2/by-id/1.raw" vm_state_size)" -gt 100000 ] || fail "savevm left no VM state"
[ "$(x "$M/vm.qcow2/by-id/1.raw" vm_clock)" -gt 0 ] || fail "the VM clock did not run"
[ "$(x "$M/vm.qcow2/by-id/1.raw" exclusive_bytes)" -gt "$(x "$M/vm.qcow2/by-id/1.raw" vm_state_size)" ] \
  || fail "the VM state is the snapshot's alone"
# first and twin share every cluster but their L1 tables
assert_eq "$(x "$M/db.qcow2/snapshots/first.raw" exclusive_bytes)" "131072" "first: its L1 table only"

# listxattr agrees with getxattr; size probes and ERANGE, for both calls
python3 - "$M/vm.qcow2/by-id/1.raw" <<'PY' || fail "listxattr/getxattr protocol"
import ctypes, errno, os, sys
path = sys.argv[1].encode()
libc = ctypes.CDLL(None, use_errno=True)
listed = os.listxattr(sys.argv[1])
assert listed == ["user.qsnapfs." + n for n in
                  ("id", "name", "date", "vm_clock", "vm_state_size", "disk_size", "exclusive_bytes")], listed
for name in listed:
    value = os.getxattr(sys.argv[1], name)
    need = libc.getxattr(path, name.encode(), None, 0)
    assert need == len(value), (name, need, value)
    small = ctypes.create_string_buffer(need)
    if need > 1:  # a buffer of 0 bytes is a size probe
        assert libc.getxattr(path, name.encode(), small, need - 1) == -1 and ctypes.get_errno() == errno.ERANGE, name
    assert libc.getxattr(path, name.encode(), small, need) == need and small.raw == value, name
need = libc.listxattr(path, None, 0)
assert need == sum(len(n) + 1 for n in listed), need
buf = ctypes.create_string_buffer(need)
assert libc.listxattr(path, buf, need - 1) == -1 and ctypes.get_errno() == errno.ERANGE
assert libc.listxattr(path, buf, need) == need and buf.raw.split(b"\0")[:-1] == [n.encode() for n in listed]
assert libc.getxattr(path, b"user.other", None, 0) == -1 and ctypes.get_errno() == errno.ENODATA
PY

# nothing else has attributes; nothing can be set or removed
for p in "$M" "$M/vm.qcow2" "$M/vm.qcow2/by-id" "$M/vm.qcow2/control/create" "$M/vm.qcow2/control/log"; do
  assert_eq "$(getfattr -d --absolute-names "$p")" "" "$p has no attributes"
  expect_fail "No such attribute" getfattr --absolute-names -n user.qsnapfs.id "$p"
done
for p in "$M/vm.qcow2/by-id/1.raw" "$M/db.qcow2/snapshots/first.raw" "$M/vm.qcow2/control/log" "$M/vm.qcow2/control/create"; do
  expect_fail "Read-only file system" setfattr -n user.qsnapfs.name -v other "$p"
  expect_fail "Read-only file system" setfattr -n user.mine -v 1 "$p"
  expect_fail "Read-only file system" setfattr -x user.qsnapfs.name "$p"
done
assert_eq "$(x "$M/vm.qcow2/by-id/1.raw" name)" "running" "the name after the refusals"

# after a request the image is reopened: deleting 'first' leaves 'twin' alone with what they shared
before=$(x "$M/db.qcow2/snapshots/twin.raw" exclusive_bytes)
assert_eq "$before" "131072" "twin: its L1 table only"
touch "$M/db.qcow2/control/delete/first" || fail "touch control/delete/first"
after=$(x "$M/db.qcow2/snapshots/twin.raw" exclusive_bytes)
[ "$after" -gt "$before" ] || fail "twin's exclusive bytes after first was deleted: $after"
assert_eq "$after" "$(exclusive "$D/db.qcow2" "$(x "$M/db.qcow2/snapshots/twin.raw" id)")" "twin after the delete"
touch "$M/db.qcow2/control/create/new" || fail "touch control/create/new"
assert_eq "$(x "$M/db.qcow2/snapshots/new.raw" name)" "new" "a new snapshot's attributes"
assert_eq "$(x "$M/db.qcow2/snapshots/new.raw" vm_state_size)" "0" "a new snapshot is disk only"
echo "mount-xattrs: ok"

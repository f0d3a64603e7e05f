#!/usr/bin/env bash
# The control directory on a real mount, with touch: create, delete (by name and by ID) and apply,
# each judged by qemu-img (bytes and check), and every errno a request can end in, with its line
# in control/log.
source "$(dirname "$0")/lib.bash"
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"
qemu-img create -q -f qcow2 "$D/vm.qcow2" 64M
qemu-io -f qcow2 -c 'write -P 0x11 0 4M' -c 'write -P 0x12 20M 1M' "$D/vm.qcow2" >/dev/null
qemu-img snapshot -c base "$D/vm.qcow2"
qemu-io -f qcow2 -c 'write -P 0x21 1M 2M' -c 'write -z 20M 64k' "$D/vm.qcow2" >/dev/null
qs_mount "$D" "$M"
V=$M/vm.qcow2; C=$V/control

# check_clean IMAGE: qemu-img check finds nothing
check_clean() { qemu-img check -q "$1" || fail "qemu-img check $1 after: $2"; }
# log_has TEXT: a line of control/log contains TEXT
log_has() { grep -qF -- "$1" "$C/log" || fail "control/log has no line with '$1':$(sed 's/^/  /' "$C/log")"; }
# id_of NAME: the snapshot's ID, as qemu-img lists it
id_of() { qemu-img snapshot -l "$D/vm.qcow2" | awk -v n="$1" '$2 == n { print $1 }'; }

# create: the snapshot is there the moment touch returns
touch "$C/create/nightly" || fail "touch create/nightly"
# the name stays for a moment (2 s) as an empty file
assert_eq "$(ls "$C/create")" "nightly" "control/create right after the request"
assert_eq "$(stat -c '%s %a' "$C/create/nightly")" "0 644" "the request's file"
assert_eq "$(ls "$V/snapshots" | tr '\n' ' ')" "base.raw nightly.raw " "snapshots right after create"
id=$(id_of nightly); [ -n "$id" ] || fail "qemu-img does not list the new snapshot"
log_has "create vm.qcow2 \"nightly\": ok, id $id"
oracle "$D/vm.qcow2" "$id" "$T/nightly.raw"
cmp "$V/snapshots/nightly.raw" "$T/nightly.raw" || fail "new snapshot's bytes through the mount"
cmp "$V/by-id/$id.raw" "$T/nightly.raw" || fail "new snapshot's bytes by ID"
check_clean "$D/vm.qcow2" create

# a name that is not ASCII arrives intact
touch "$C/create/nächtlich" || fail "touch create/nächtlich"
[ -f "$V/snapshots/nächtlich.raw" ] || fail "snapshots/nächtlich.raw missing: $(ls "$V/snapshots")"
qemu-img snapshot -l "$D/vm.qcow2" | grep -q " nächtlich " || fail "qemu-img does not list 'nächtlich'"
touch "$C/delete/nächtlich" || fail "touch delete/nächtlich"

# EEXIST: by CREATE (after the name is gone) and by OPEN (while the kernel still knows it)
expect_fail "File exists" touch "$C/create/nightly"
log_has "create vm.qcow2 \"nightly\": EEXIST: "
sleep 2.5
assert_eq "$(ls "$C/create")" "" "the name is gone after a moment"
expect_fail "File exists" touch "$C/create/nightly"
expect_fail "File exists" touch "$C/create/base"

# delete by name and by ID, gone at once
touch "$C/delete/nightly" || fail "touch delete/nightly"
assert_eq "$(ls "$V/snapshots" | tr '\n' ' ')" "base.raw " "snapshots right after delete by name"
expect_fail "No such file or directory" cat "$V/snapshots/nightly.raw"
[ -z "$(id_of nightly)" ] || fail "qemu-img still lists the deleted snapshot"
log_has "delete vm.qcow2 \"nightly\": ok, id $id"
check_clean "$D/vm.qcow2" "delete by name"
touch "$C/create/second" || fail "touch create/second"
id2=$(id_of second)
touch "$C/delete/$id2" || fail "touch delete/$id2"
assert_eq "$(ls "$V/by-id" | tr '\n' ' ')" "1.raw " "by-id right after delete by ID"
log_has "delete vm.qcow2 \"$id2\": ok, id $id2"
check_clean "$D/vm.qcow2" "delete by ID"

# apply: the active layer becomes the snapshot
oracle "$D/vm.qcow2" 1 "$T/base.raw"
qemu-img convert -O raw "$D/vm.qcow2" "$T/before.raw"
cmp -s "$T/before.raw" "$T/base.raw" && fail "test setup: the active layer already equals base"
touch "$C/apply/base" || fail "touch apply/base"
qemu-img convert -O raw "$D/vm.qcow2" "$T/after.raw"
cmp "$T/after.raw" "$T/base.raw" || fail "active layer after apply"
cmp "$V/snapshots/base.raw" "$T/base.raw" || fail "the snapshot itself after apply"
log_has "apply vm.qcow2 \"base\": ok, id 1"
check_clean "$D/vm.qcow2" apply

# ENOENT
expect_fail "No such file or directory" touch "$C/delete/nosuch"
expect_fail "No such file or directory" touch "$C/apply/nosuch"
log_has "delete vm.qcow2 \"nosuch\": ENOENT: "
log_has "apply vm.qcow2 \"nosuch\": ENOENT: "

# EBUSY: a snapshot file held open through the mount
touch "$C/create/other" || fail "touch create/other"
exec 3<"$V/snapshots/base.raw"
expect_fail "Device or resource busy" touch "$C/delete/base"
expect_fail "Device or resource busy" touch "$C/delete/1"
expect_fail "Device or resource busy" touch "$C/apply/other"
log_has "delete vm.qcow2 \"base\": EBUSY: "
log_has "apply vm.qcow2 \"other\": EBUSY: "
touch "$C/create/while-open" || fail "create while a snapshot file is open"
touch "$C/delete/other" || fail "delete of another snapshot while one is open"
exec 3<&-
touch "$C/apply/other" 2>/dev/null && fail "apply of a deleted snapshot succeeded"
touch "$C/apply/while-open" || fail "apply after the file was closed"
check_clean "$D/vm.qcow2" "requests around an open file"

# EBUSY: QEMU (qemu-io) holds the image
mkfifo "$T/qio"
qemu-io -f qcow2 "$D/vm.qcow2" <"$T/qio" >"$T/qio.out" 2>&1 &
qio=$!
exec 4>"$T/qio"
for i in $(seq 1 50); do qemu-img info "$D/vm.qcow2" >/dev/null 2>&1 || break; sleep 0.1; done
qemu-img info "$D/vm.qcow2" >/dev/null 2>&1 && fail "test setup: qemu-io does not hold the image"
expect_fail "Device or resource busy" touch "$C/create/held"
log_has "create vm.qcow2 \"held\": EBUSY: "
echo quit >&4; exec 4>&-; wait "$qio"
touch "$C/create/held" || fail "create once qemu-io let go"
check_clean "$D/vm.qcow2" "create after qemu-io"

# EINVAL: names that cannot be a snapshot file, and 1-bit refcounts
expect_fail "Invalid argument" touch "$C/create/$(printf 'n%.0s' $(seq 1 252))"
expect_fail "Invalid argument" touch "$C/create/"$'\xff'
log_has ": EINVAL: vm.qcow2: snapshot name \""
qemu-img create -q -f qcow2 -o refcount_bits=1 "$D/r1.qcow2" 8M
qemu-io -f qcow2 -c 'write -P 0x31 0 1M' "$D/r1.qcow2" >/dev/null
sleep 0.6 # the new image shows up within the refresh interval
expect_fail "Invalid argument" touch "$M/r1.qcow2/control/create/s"
log_has "create r1.qcow2 \"s\": EINVAL: "
check_clean "$D/r1.qcow2" "refused 1-bit create"

# EIO, with the reason in the log: an image with an external data file can be read, not changed
qemu-img create -q -f qcow2 -o data_file="$D/ext.data" "$D/ext.qcow2" 8M
sleep 0.6
expect_fail "Input/output error" touch "$M/ext.qcow2/control/create/s"
log_has "create ext.qcow2 \"s\": EIO: ext.qcow2: the image keeps its data in an external data file"

# writes elsewhere stay refused
expect_fail "Read-only file system" touch "$V/snapshots/new.raw"
expect_fail "Read-only file system" mkdir "$C/create/dir"
expect_fail "Read-only file system" sh -c "echo x > '$C/log'"

# EROFS: a --read-only mount has the control directories, and they refuse
R=$T/ro; qs_mount "$D" "$R" --read-only
[ -d "$R/vm.qcow2/control/create" ] || fail "read-only mount without control/create"
for op in create delete apply; do
  expect_fail "Read-only file system" touch "$R/vm.qcow2/control/$op/base"
  grep -qF "$op vm.qcow2 \"base\": EROFS: " "$R/vm.qcow2/control/log" || fail "no EROFS line for $op"
done
umount "$R"

# ENOSPC: a full tmpfs
S=$T/small; SM=$T/smnt; mkdir -p "$S" "$SM"
mount -t tmpfs -o size=16m tmpfs "$S"; CLEANUP_MOUNTS+=("$S")
qemu-img create -q -f qcow2 "$S/vm.qcow2" 64M
qemu-io -f qcow2 -c 'write -P 0x41 0 4M' "$S/vm.qcow2" >/dev/null
qs_mount "$S" "$SM"
dd if=/dev/zero of="$S/fill" bs=4k status=none 2>/dev/null || true
expect_fail "No space left on device" touch "$SM/vm.qcow2/control/create/full"
grep -qF 'create vm.qcow2 "full": ENOSPC: ' "$SM/vm.qcow2/control/log" || fail "no ENOSPC line"
check_clean "$S/vm.qcow2" "ENOSPC"
rm "$S/fill"
touch "$SM/vm.qcow2/control/create/full" || fail "create once there is room"
check_clean "$S/vm.qcow2" "create after ENOSPC"
# the server lets go of the image only when it exits, a moment after the unmount
server=$(daemon_pid "$SM"); umount "$SM"
for i in $(seq 1 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
umount "$S"

echo "mount-control: ok"

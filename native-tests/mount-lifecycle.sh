#!/usr/bin/env bash
# Mounting reports failures clearly; umount, SIGTERM, SIGINT (foreground) and SIGKILL all leave no
# stale mount behind.
source "$(dirname "$0")/lib.bash"
need python3 setpriv
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"
qemu-img create -q -f qcow2 "$D/vm.qcow2" 8M
qemu-img snapshot -c s "$D/vm.qcow2"

gone() { # waits for the mount and its process to go away
  local pid=$1 i
  for i in $(seq 1 50); do
    if ! mounted "$M" && ! kill -0 "$pid" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "$2: mount or process still there"
}
usable() { ls "$M" >/dev/null 2>&1 || fail "$1: mount point left stale"; }

# failures say what is wrong, exit 1
expect_fail "does not exist" "$QS" mount "$D" "$T/nowhere"
expect_fail "does not exist" "$QS" mount "$T/no-images" "$M"
set +e; "$QS" mount "$D" "$T/nowhere" 2>/dev/null; rc=$?; set -e
assert_eq "$rc" "1" "exit status of a failed mount"

# the reasons libfuse and fusermount give reach the terminal, not only the server's log
mkdir -p "$T/full"; touch "$T/full/x"
expect_fail "mountpoint is not empty" "$QS" mount --log-file "$T/full.log" "$D" "$T/full"
# a user who may not open /dev/fuse (crw------- root here; made so for the test if it is not)
mode=$(stat -c %a /dev/fuse)
[ "$mode" = 600 ] || { chmod 600 /dev/fuse; trap 'chmod "$mode" /dev/fuse; cleanup' EXIT; }
mkdir -p "$T/user-mnt" "$T/user"; chown nobody "$T/user-mnt" "$T/user"; chmod 755 "$T"
expect_fail "failed to open /dev/fuse: Permission denied" \
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$QS" mount --log-file "$T/user/server.log" "$D" "$T/user-mnt"
[ "$mode" = 600 ] || chmod "$mode" /dev/fuse

# qsnapfs umount
qs_mount "$D" "$M"
expect_fail "busy" "$QS" mount "$D" "$M"
pid=$(daemon_pid "$M"); [ -n "$pid" ] || fail "no daemon process found"
"$QS" umount "$M"
gone "$pid" "qsnapfs umount"; usable "qsnapfs umount"
expect_fail "not mounted" "$QS" umount "$M"

# SIGTERM
qs_mount "$D" "$M"; pid=$(daemon_pid "$M")
kill -TERM "$pid"
gone "$pid" "SIGTERM"; usable "SIGTERM"

# SIGTERM while readers are blocked inside reads: the server was stopped when they started, so
# their requests wait in the kernel; it detaches the mount, gives the open files a second, then
# aborts the connection (the readers, which never close their files, get an error instead of
# hanging) and exits
qemu-io -f qcow2 -c 'write -P 7 0 8M' "$D/vm.qcow2" >/dev/null
qemu-img snapshot -c big "$D/vm.qcow2"
qs_mount "$D" "$M"; pid=$(daemon_pid "$M")
kill -STOP "$pid"
readers=()
for i in 1 2 3; do
  python3 - "$M/vm.qcow2/snapshots/big.raw" 2>/dev/null <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)  # held open: the mount stays busy until the abort
while True:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # every pass asks the server again
    off = 0
    while True:
        b = os.pread(fd, 1 << 20, off)
        if not b:
            break
        off += len(b)
PY
  readers+=($!)
done
sleep 0.5
kill -TERM "$pid"; kill -CONT "$pid"
gone "$pid" "SIGTERM with blocked readers"
for r in "${readers[@]}"; do
  for i in $(seq 1 50); do kill -0 "$r" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$r" 2>/dev/null && fail "a reader still hangs after the server ended"
done
usable "SIGTERM with blocked readers"
grep -q "connection aborted" "$T/server-mnt.log" || fail "no abort in the log: $(cat "$T/server-mnt.log")"

# SIGKILL: auto_unmount cleans up
qs_mount "$D" "$M"; pid=$(daemon_pid "$M")
kill -KILL "$pid"
gone "$pid" "SIGKILL"; usable "SIGKILL"

# foreground: returns when interrupted, logs to stderr. A non-interactive shell starts background
# jobs with SIGINT ignored; env puts the default action back, as a terminal's Ctrl-C would find it.
env --default-signal=INT "$QS" mount -f "$D" "$M" 2>"$T/fg.log" & fg=$!
for i in $(seq 1 100); do mounted "$M" && break; sleep 0.1; done
mounted "$M" || fail "foreground mount did not come up: $(cat "$T/fg.log")"
ls "$M/vm.qcow2/snapshots" >/dev/null
kill -INT "$fg"
wait "$fg" || true
gone "$fg" "SIGINT in the foreground"; usable "SIGINT"
echo "mount-lifecycle: ok"

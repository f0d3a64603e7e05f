#!/usr/bin/env bash
# Mounting reports failures clearly; umount, SIGTERM, SIGINT (foreground) and SIGKILL all leave no
# stale mount behind.
source "$(dirname "$0")/lib.bash"
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

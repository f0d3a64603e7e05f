#!/usr/bin/env bash
# Snapshots of a running VM, handed to its QEMU over QMP: a real qemu-system-x86_64 (TCG, no guest
# kernel) runs on an image of a mounted directory with a QMP socket on its command line. Its disk is
# written through QEMU's own block layer (HMP qemu-io), then:
# - touch control/create/N is done by QEMU (the log says "by QEMU pid P"), the snapshot file reads
#   what the disk held and keeps it while the VM writes on; a taken name is EEXIST, an unknown
#   snapshot ENOENT, an apply EBUSY naming loadvm; touch control/delete/N removes it;
# - qsnapfs snapshot create/delete do the same, found from the command line, and with --qmp where
#   the command line's path no longer leads to the monitor;
# - after the VM quits, qemu-img snapshot -l agrees and qemu-img check is clean;
# - EBUSY with the reason for: two QMP monitors both held by other clients, a VM with no QMP
#   monitor, a mapped socket that never greets (within the time limit, nothing hangs);
# - a VM whose monitor is reachable only through the mapping (-o qmp=DIR; its socket was moved
#   away from the path on its command line).
source "$(dirname "$0")/lib.bash"
need qemu-system-x86_64 python3
D=$T/images; M=$T/mnt; Q=$T/qmp; mkdir -p "$D" "$M" "$Q"
IMG=$D/web.qcow2
qemu-img create -q -f qcow2 "$IMG" 16M
qemu-io -f qcow2 -c 'write -P 0x11 0 1M' "$IMG" >/dev/null
qs_mount "$D" "$M" -o qmp=$Q,qmp_timeout=2
C=$M/web.qcow2/control
log_has() { grep -qF -- "$1" "$C/log" || fail "control/log has no line with '$1':$(sed 's/^/  /' "$C/log")"; }

# the expected disk, built the same way on a raw file
qemu-img create -q -f raw "$T/expected.raw" 16M
qemu-io -f raw -c 'write -P 0x11 0 1M' -c 'write -P 0x5a 0 64k' -c 'write -P 0x77 8M 192k' "$T/expected.raw" >/dev/null

vm_start "$IMG" -qmp "unix:$T/web.qmp,server=on,wait=off"
# the second write allocates clusters (and an L2 table) QEMU may hold only in its caches
hmp 'qemu-io drive0 "write -P 0x5a 0 64k"' 'qemu-io drive0 "write -P 0x77 8M 192k"' >/dev/null
touch "$C/create/nightly" || fail "create while the VM runs"
log_has "create web.qcow2 \"nightly\": ok, id 1, by QEMU pid $QEMU_PID"
cmp "$M/web.qcow2/snapshots/nightly.raw" "$T/expected.raw" || fail "nightly.raw is not what the disk held"
cmp "$M/web.qcow2/by-id/1.raw" "$T/expected.raw" || fail "by-id/1.raw"
hmp 'qemu-io drive0 "write -P 0x66 0 1M"' >/dev/null
cmp "$M/web.qcow2/snapshots/nightly.raw" "$T/expected.raw" || fail "nightly.raw changed when the VM wrote on"

expect_fail "File exists" touch "$C/create/nightly"
log_has "create web.qcow2 \"nightly\": EEXIST: web.qcow2: a snapshot named 'nightly' exists already (ID 1)"
expect_fail "No such file or directory" touch "$C/delete/nosuch"
log_has "delete web.qcow2 \"nosuch\": ENOENT: "
expect_fail "Device or resource busy" touch "$C/apply/nightly"
log_has "apply web.qcow2 \"nightly\": EBUSY: web.qcow2: in use by QEMU pid $QEMU_PID"
grep -q "loadvm" "$C/log" || fail "the apply refusal does not mention loadvm"

# the CLI, found from QEMU's command line and with --qmp
"$QS" snapshot create "$IMG" cli1 || fail "snapshot create while the VM runs"
"$QS" snapshot create --qmp "$T/web.qmp" "$IMG" cli2 || fail "snapshot create --qmp"
expect_fail "exists already" "$QS" snapshot create "$IMG" cli1
"$QS" snapshot delete "$IMG" cli1 || fail "snapshot delete while the VM runs"
expect_fail "no snapshot with ID or name 'cli1'" "$QS" snapshot delete --qmp "$T/web.qmp" "$IMG" cli1
expect_fail "loadvm" "$QS" snapshot apply "$IMG" nightly
ls "$M/web.qcow2/snapshots" | grep -qx cli2.raw || fail "cli2 not in the mount"

touch "$C/delete/nightly" || fail "delete while the VM runs"
log_has "delete web.qcow2 \"nightly\": ok, id 1, by QEMU pid $QEMU_PID"
[ -e "$M/web.qcow2/snapshots/nightly.raw" ] && fail "nightly.raw after its delete"
vm_quit
assert_eq "$(qemu-img snapshot -l "$IMG" | awk 'NR>2 {print $2}' | tr '\n' ' ')" "cli2 " "qemu-img snapshot -l"
qemu-img check -q "$IMG" || fail "qemu-img check after the VM's snapshots"

# busy: two QMP monitors, each held by another client
vm_start "$IMG" -qmp "unix:$T/a.qmp,server=on,wait=off" -qmp "unix:$T/b.qmp,server=on,wait=off"
python3 - "$T/a.qmp" "$T/b.qmp" > "$T/holder.out" 2>&1 <<'PY' &
import socket, sys, time
held = []
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX); s.connect(p); s.recv(4096); held.append(s)
print("holding", flush=True)
time.sleep(120)
PY
CLEANUP_PIDS+=("$!"); HOLDER=$!
for i in $(seq 100); do grep -q holding "$T/holder.out" && break; sleep 0.1; done
start=$(date +%s)
expect_fail "Device or resource busy" touch "$C/create/busy"
[ $(( $(date +%s) - start )) -le 10 ] || fail "EBUSY took longer than the two time limits"
log_has "create web.qcow2 \"busy\": EBUSY: "
grep "\"busy\": EBUSY" "$C/log" | grep -q "$T/a.qmp.*$T/b.qmp" || fail "the busy line names both monitors: $(tail -1 "$C/log")"
kill "$HOLDER"; vm_quit

# no QMP monitor at all
vm_start "$IMG"
expect_fail "Device or resource busy" touch "$C/create/noqmp"
log_has "create web.qcow2 \"noqmp\": EBUSY: web.qcow2: in use by another process (pid $QEMU_PID, qemu-system-x86: "
log_has "no QMP monitor"
# a mapped socket that never greets
python3 - "$Q/web.qcow2.qmp" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
PY
CLEANUP_PIDS+=("$!"); SILENT=$!
for i in $(seq 50); do [ -S "$Q/web.qcow2.qmp" ] && break; sleep 0.1; done
start=$(date +%s)
expect_fail "Device or resource busy" touch "$C/create/silent"
[ $(( $(date +%s) - start )) -le 6 ] || fail "a silent monitor held the request longer than its time limit"
grep "\"silent\": EBUSY" "$C/log" | grep -q "web.qcow2.qmp" || fail "the silent socket is not named: $(tail -1 "$C/log")"
kill "$SILENT"; rm -f "$Q/web.qcow2.qmp"
vm_quit

# a monitor found only through the mapping: the path on QEMU's command line no longer leads to it
vm_start "$IMG" -qmp "unix:$T/hidden.qmp,server=on,wait=off"
mv "$T/hidden.qmp" "$Q/web.qmp"
touch "$C/create/mapped" || fail "create through the mapped socket"
log_has "create web.qcow2 \"mapped\": ok, id 4, by QEMU pid $QEMU_PID"
touch "$C/delete/mapped" || fail "delete through the mapped socket"
# the CLI: without --qmp only the path on the command line is known, and it leads nowhere
expect_fail "No such file or directory" "$QS" snapshot create "$IMG" lost
"$QS" snapshot create --qmp "$Q/web.qmp" "$IMG" cli3 || fail "snapshot create --qmp"
"$QS" snapshot delete --qmp "$Q/web.qmp" "$IMG" cli3 || fail "snapshot delete --qmp"
vm_quit
assert_eq "$(qemu-img snapshot -l "$IMG" | awk 'NR>2 {print $2}' | tr '\n' ' ')" "cli2 " "qemu-img snapshot -l at the end"
qemu-img check -q "$IMG" || fail "qemu-img check at the end"
echo "mount-qmp: ok"

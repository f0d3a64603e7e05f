# Shared helpers for native tests: sourced, not run. Each test gets a scratch directory that is
# cleaned up with every mount and loop device it made, whatever happens.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QS="$ROOT/target/qsnapfs"
T=$(mktemp -d /tmp/qsnapfs-test.XXXXXX)
CLEANUP_MOUNTS=()
CLEANUP_LOOPS=()
CLEANUP_PIDS=()

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "missing tool '$tool': run make setup"; exit 1; }
  done
}
need qemu-img qemu-io fusermount sha256sum
[ -x "$QS" ] || { echo "$QS missing: run make build (or make setup)"; exit 1; }

cleanup() {
  set +e
  for p in "${CLEANUP_PIDS[@]}"; do
    kill "$p" 2>/dev/null && { timeout 10 tail --pid="$p" -f /dev/null || kill -9 "$p" 2>/dev/null; }
  done
  for d in "${CLEANUP_LOOPS[@]}"; do losetup -d "$d" 2>/dev/null; done
  for m in "${CLEANUP_MOUNTS[@]}"; do
    if grep -qs " $m " /proc/self/mountinfo; then umount "$m" 2>/dev/null || fusermount -u -z "$m" 2>/dev/null; fi
  done
  rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

assert_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }

# mounted MOUNTPOINT: true when a qsnapfs mount is there
mounted() { grep -qs " $(readlink -f "$1") .* - fuse.qsnapfs " /proc/self/mountinfo; }

# qs_mount IMAGE_DIR MOUNTPOINT [options...]: mount in the background, remember it for cleanup
qs_mount() {
  local dir=$1 mp=$2; shift 2
  mkdir -p "$mp"
  CLEANUP_MOUNTS+=("$(readlink -f "$mp")")
  # the server's log goes into the scratch directory, not /tmp, so that tests leave nothing behind
  "$QS" mount --log-file "$T/server-$(basename "$mp").log" "$@" "$dir" "$mp" \
    || fail "qsnapfs mount $dir $mp failed: $(cat "$T/server-$(basename "$mp").log" 2>/dev/null)"
  mounted "$mp" || fail "qsnapfs mount returned but $mp is not mounted"
}

# daemon_pid MOUNTPOINT: the process serving a mount
daemon_pid() { pgrep -f -- "mount .*-f.* $(readlink -f "$1")\$" | head -1; }

# oracle IMAGE ID OUT: the expected bytes of snapshot ID, by QEMU
oracle() { qemu-img convert -l "snapshot.id=$2" -O raw "$1" "$3"; }

# sum FILE: sha256 only
sum() { sha256sum "$1" | cut -d' ' -f1; }

# expect_fail ERRTEXT CMD...: CMD must fail and say ERRTEXT (e.g. "Read-only file system")
expect_fail() {
  local want=$1; shift
  local out
  if out=$("$@" 2>&1); then fail "'$*' succeeded; expected: $want"; fi
  case "$out" in *"$want"*) ;; *) fail "'$*' said '$out'; expected: $want";; esac
}

# vm_start IMAGE [-S]: a real QEMU VM over a qcow2 image, for snapshots with VM state (savevm):
# qemu-system-x86_64 with TCG, 32 MiB, no display, no default devices, the image as drive0 attached
# to no guest device (the guest sits in its BIOS; no kernel needed), at most 5 minutes; its HMP
# monitor on $T/vm.sock. Sets VM_PID (killed at exit if still running) and QEMU_PID (QEMU's own
# process, a child of VM_PID's timeout). One VM per test at a time.
vm_start() {
  need qemu-system-x86_64 python3
  VM_SOCK=$T/vm.sock
  rm -f "$VM_SOCK"
  timeout 300 qemu-system-x86_64 -accel tcg -m 32 -nodefaults -no-user-config -display none \
    -drive "file=${1//,/,,},format=qcow2,if=none,id=drive0" \
    -monitor "unix:$VM_SOCK,server=on,wait=off" "${@:2}" >"$T/vm.log" 2>&1 &
  VM_PID=$!
  CLEANUP_PIDS+=("$VM_PID")
  hmp
  QEMU_PID=$(pgrep -P "$VM_PID" | head -1)
}

# hmp [COMMAND...]: runs HMP commands on the VM's monitor one after another, each waiting for the
# next prompt (60 s at most), and prints their output; fails on an error. Without commands it
# only waits for the monitor to answer.
hmp() {
  python3 - "$VM_SOCK" "$@" <<'PY' || fail "QEMU monitor: ${*:-no answer}; QEMU said: $(cat "$T/vm.log")"
import re, socket, sys, time
path, commands = sys.argv[1], sys.argv[2:]
s = socket.socket(socket.AF_UNIX)
deadline = time.time() + 30
while True:
    try:
        s.connect(path)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("no monitor on " + path)
        time.sleep(0.05)
s.settimeout(60)
def answer():
    text = ""
    while not text.endswith("(qemu) "):
        data = s.recv(65536)
        if not data:
            sys.exit("the monitor closed")
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text + data.decode("latin-1"))
    return text[:-len("(qemu) ")]
answer()
for c in commands:
    s.sendall(c.encode() + b"\n")
    out = answer().split("\r\n", 1)[-1]
    sys.stdout.write(out.replace("\r\n", "\n"))
    if "Error" in out or out.startswith("unknown command") or "failed" in out:
        sys.exit(c + ": " + out.strip())
PY
}

# vm_quit: quits the VM and waits until it has exited (and so let go of the image)
vm_quit() {
  python3 - "$VM_SOCK" <<'PY' || true
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"quit\n")
s.settimeout(10)
try:
    while s.recv(4096):
        pass
except OSError:
    pass
PY
  timeout 10 tail --pid="$VM_PID" -f /dev/null || { kill "$VM_PID"; fail "QEMU did not quit: $(cat "$T/vm.log")"; }
}

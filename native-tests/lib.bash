# Shared helpers for native tests: sourced, not run. Each test gets a scratch directory that is
# cleaned up with every mount and loop device it made, whatever happens.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QS="$ROOT/target/qsnapfs"
T=$(mktemp -d /tmp/qsnapfs-test.XXXXXX)
CLEANUP_MOUNTS=()
CLEANUP_LOOPS=()

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "missing tool '$tool': run make setup"; exit 1; }
  done
}
need qemu-img qemu-io fusermount sha256sum
[ -x "$QS" ] || { echo "$QS missing: run make build (or make setup)"; exit 1; }

cleanup() {
  set +e
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

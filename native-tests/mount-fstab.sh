#!/usr/bin/env bash
# Mounting the way FUSE file systems are mounted: `mount -t fuse.qsnapfs`, an fstab line (the
# test's own fstab, `mount -T`) with nofail,_netdev,x-systemd.automount, the example unit's
# options, and `umount`. mount(8) runs mount.fuse, which runs `qsnapfs SOURCE MOUNTPOINT -o ...`
# with mount's own PATH (/usr/local/bin among it); so the test runs in a mount namespace of its
# own, where a `make install DESTDIR=...` is bound over /usr/local (and a tmpfs over /run/mount,
# libmount's table of userspace options). Also: unknown options refused by name, ro refusing
# requests, fixed-width log times, and the server's log going to the journal when JOURNAL_STREAM
# names stderr.
if [ -z "${QSNAPFS_TEST_NAMESPACE:-}" ]; then
  command -v unshare >/dev/null || { echo "missing tool 'unshare': run make setup"; exit 1; }
  exec env QSNAPFS_TEST_NAMESPACE=1 unshare --mount --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/lib.bash"
need mount umount make
D=$T/images M=$T/mnt R=$T/root
mkdir -p "$D" "$M"
qemu-img create -q -f qcow2 "$D/vm.qcow2" 8M
qemu-io -f qcow2 -c 'write -P 0x33 0 1M' "$D/vm.qcow2" >/dev/null
qemu-img snapshot -c base "$D/vm.qcow2"
oracle "$D/vm.qcow2" 1 "$T/base.raw"

make -s -C "$ROOT" install DESTDIR="$R" >"$T/install.out" || fail "make install: $(cat "$T/install.out")"
mount --bind "$R/usr/local" /usr/local
if [ -d /run/mount ]; then mount -t tmpfs tmpfs /run/mount; fi
CLEANUP_MOUNTS+=("$M")
# without --log-file root's server logs to /run/qsnapfs/<mountpoint>.log (0700): that file goes too
serverlog=/run/qsnapfs/${M//\//_}.log
trap 'cleanup; rm -f "$serverlog"' EXIT

unmount() { # umount MOUNTPOINT, as a user would, and wait for the server to end
  umount "$M" || fail "umount $M failed"
  for i in $(seq 1 50); do pgrep -f -- "mount .*-f.* $M\$" >/dev/null || return 0; sleep 0.1; done
  fail "the server of $M still runs after umount"
}

# mount -t fuse.qsnapfs, with the options that only mount, mount.fuse and systemd act on, and ro
mount -t fuse.qsnapfs "$D" "$M" -o ro,allow_other,nofail,_netdev,x-systemd.automount,defaults,noauto \
  || fail "mount -t fuse.qsnapfs failed"
mounted "$M" || fail "mount -t fuse.qsnapfs returned, but $M is not a qsnapfs mount"
grep " $M " /proc/self/mountinfo | grep -q 'allow_other' || fail "allow_other did not reach FUSE: $(grep " $M " /proc/self/mountinfo)"
assert_eq "$(sum "$M/vm.qcow2/snapshots/base.raw")" "$(sum "$T/base.raw")" "snapshot through mount -t fuse.qsnapfs"
expect_fail "Read-only file system" touch "$M/vm.qcow2/control/create/s1"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z serving .* \(read-only\)$' "$serverlog" \
  || fail "no fixed-width 'serving ... (read-only)' line in $serverlog: $(cat "$serverlog")"
assert_eq "$(stat -c '%a %U' /run/qsnapfs)" "700 root" "the server log's directory"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z create vm.qcow2 "s1": EROFS' \
  "$M/vm.qcow2/control/log" || fail "control/log: $(cat "$M/vm.qcow2/control/log")"
unmount
echo "mount -t fuse.qsnapfs: ok"

# an fstab line: mount MOUNTPOINT, then requests work (no ro), umount MOUNTPOINT
printf '# the test'"'"'s own fstab\n%s %s fuse.qsnapfs allow_other,nofail,_netdev,x-systemd.automount 0 0\n' \
  "$D" "$M" > "$T/fstab"
mount -T "$T/fstab" "$M" || fail "mount -T fstab $M failed"
mounted "$M" || fail "mount $M (fstab) returned, but it is not a qsnapfs mount"
touch "$M/vm.qcow2/control/create/from-fstab" || fail "a request through the fstab mount failed"
qemu-img snapshot -l -U "$D/vm.qcow2" | grep -q from-fstab || fail "the snapshot made through the fstab mount is missing"
assert_eq "$(sum "$M/vm.qcow2/snapshots/base.raw")" "$(sum "$T/base.raw")" "snapshot through the fstab mount"
unmount
mounted "$M" && fail "still mounted after umount"
echo "fstab line: ok"

# the example unit's Options=, as systemd hands them to mount(8)
options=$(sed -n 's/^Options=//p' "$ROOT/examples/mnt-snaps.mount")
[ -n "$options" ] || fail "examples/mnt-snaps.mount has no Options="
mount -t "$(sed -n 's/^Type=//p' "$ROOT/examples/mnt-snaps.mount")" "$D" "$M" -o "$options" \
  || fail "mount with the example unit's options ($options) failed"
expect_fail "Read-only file system" touch "$M/vm.qcow2/control/create/s2"
unmount
echo "example unit's options: ok"

# an option qsnapfs does not know: refused by name, nothing mounted
expect_fail "unknown mount option 'frob'" mount -t fuse.qsnapfs "$D" "$M" -o allow_other,frob
mounted "$M" && fail "mounted despite an unknown option"
echo "unknown option: refused"

# started by systemd: stderr is the journal (JOURNAL_STREAM names it), and the server logs there,
# not to a file in /tmp; here a file stands in for the journal's stream
rm -f "$serverlog"
: > "$T/journal"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal") mount -t fuse.qsnapfs "$D" "$M" -o allow_other 2>>"$T/journal" \
  || fail "mount with JOURNAL_STREAM failed: $(cat "$T/journal")"
unmount
[ ! -e "$serverlog" ] || fail "the server logged to $serverlog, not to the journal"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z serving ' "$T/journal" \
  && grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z unmounted ' "$T/journal" \
  || fail "no serving/unmounted lines in the journal: $(cat "$T/journal")"
! grep -q $'\e' "$T/journal" || fail "escape sequences in the journal"
echo "journal: ok"
echo "mount-fstab: ok"

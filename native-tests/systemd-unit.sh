#!/usr/bin/env bash
# examples/mnt-snaps.mount passes `systemd-analyze verify` (its Documentation= page found among
# the built man pages), and verify would notice a broken unit. Its options are mounted for real by
# mount-fstab.
source "$(dirname "$0")/lib.bash"
need systemd-analyze man
unit=$ROOT/examples/mnt-snaps.mount
[ -f "$ROOT/target/man/man1/qsnapfs-mount.1" ] || fail "target/man/man1 has no man pages: run make build"
MANPATH=$ROOT/target/man systemd-analyze verify "$unit" >"$T/verify.out" 2>&1 \
  || fail "systemd-analyze verify $unit: $(cat "$T/verify.out")"
[ ! -s "$T/verify.out" ] || fail "systemd-analyze verify $unit complains: $(cat "$T/verify.out")"
# the checks are real: a unit named after another mount point, and a page that does not exist
cp "$unit" "$T/mnt-other.mount"
expect_fail "doesn't match unit name" systemd-analyze verify "$T/mnt-other.mount"
sed 's/qsnapfs-mount(1)/qsnapfs-nosuch(1)/' "$unit" > "$T/mnt-snaps.mount"
MANPATH=$ROOT/target/man expect_fail "qsnapfs-nosuch" systemd-analyze verify "$T/mnt-snaps.mount"
echo "systemd-unit: ok"

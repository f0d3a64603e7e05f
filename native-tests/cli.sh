#!/usr/bin/env bash
# Smoke test of the installed launcher, run from another directory: snapshot list against
# qemu-img byte for byte, export against qemu-img convert, and the exit statuses users rely on.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
qsnapfs="$repo/target/qsnapfs"
[ -x "$qsnapfs" ] || { echo "target/qsnapfs missing: run make build"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

qemu-img create -q -f qcow2 web01.qcow2 64M
qemu-io -f qcow2 -c 'write -P 0x5a 0 4M' -c 'write -c -P 0x11 8M 64k' -c 'write -z 9M 1M' web01.qcow2 >/dev/null
qemu-img snapshot -c nightly web01.qcow2
qemu-io -f qcow2 -c 'write -P 0x22 0 1M' web01.qcow2 >/dev/null
qemu-img snapshot -c 'second one' web01.qcow2

# snapshot list: exactly qemu-img's output, in a time zone that is not UTC
TZ=Asia/Kolkata "$qsnapfs" snapshot list web01.qcow2 > ours.txt
TZ=Asia/Kolkata qemu-img snapshot -l web01.qcow2 > qemu.txt
diff -u qemu.txt ours.txt
echo "snapshot list matches qemu-img"

# export: the same bytes as qemu-img convert, by name and by ID
"$qsnapfs" export web01.qcow2 --snapshot nightly nightly.raw
qemu-img convert -l snapshot.id=1 -O raw web01.qcow2 expected.raw
cmp nightly.raw expected.raw
"$qsnapfs" export web01.qcow2 --snapshot 2 second.raw
qemu-img convert -l snapshot.id=2 -O raw web01.qcow2 expected2.raw
cmp second.raw expected2.raw
echo "export matches qemu-img convert"

# a missing snapshot: exit status 1, one line naming the image
status=0
"$qsnapfs" export web01.qcow2 --snapshot weekly weekly.raw 2> err.txt || status=$?
[ "$status" -eq 1 ] || { echo "missing snapshot: exit status $status, expected 1"; exit 1; }
[ "$(wc -l < err.txt)" -eq 1 ] || { echo "expected one line on stderr:"; cat err.txt; exit 1; }
grep -q '^qsnapfs: web01.qcow2: ' err.txt || { echo "message does not name the image:"; cat err.txt; exit 1; }
[ ! -e weekly.raw ] || { echo "weekly.raw was created"; exit 1; }

# a usage error: exit status 2
status=0
"$qsnapfs" export web01.qcow2 2>/dev/null || status=$?
[ "$status" -eq 2 ] || { echo "usage error: exit status $status, expected 2"; exit 1; }
echo "exit statuses ok"

# terminals, told per stream (script(1) gives the command a pseudo-terminal): a raw disk is never
# written to a terminal, also with standard input redirected; a progress bar shows on a terminal's
# standard error also when standard output is a pipe, and never when standard error is not a terminal
script -qec "'$qsnapfs' export web01.qcow2 -s 1 - < /dev/null" /dev/null > tty.txt 2>&1 || true
grep -q "refusing to write a raw disk to a terminal" tty.txt || { echo "export - to a terminal:"; cat tty.txt; exit 1; }
rm -f bar.raw
script -qec "'$qsnapfs' export web01.qcow2 -s 1 bar.raw | cat" /dev/null > bar.txt 2>&1
grep -q "100%" bar.txt || { echo "no progress bar on the terminal's stderr:"; cat bar.txt; exit 1; }
cmp bar.raw expected.raw
rm -f bar.raw
script -qec "'$qsnapfs' export web01.qcow2 -s 1 bar.raw 2> bar.err" /dev/null > /dev/null 2>&1
[ ! -s bar.err ] || { echo "a progress bar on a stderr that is a file:"; cat bar.err; exit 1; }
echo "terminals ok"

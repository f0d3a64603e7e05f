#!/usr/bin/env bash
# Mount benchmarks (issue 3), each measured against QEMU in the same run where there is a QEMU
# equivalent. Figures, not pass/fail: read them and put them in the notes.
#   1. dd bs=1M of a fully allocated 2 GiB snapshot to /dev/null, cold (caches dropped) and warm
#   2. the same snapshot to a tmpfs file: qsnapfs + dd vs qemu-img convert -l
#   3. random 4 KiB reads with fio (direct=1): IOPS
#   4. 100 images x 10 snapshots: time until the mount answers, resident memory after a full walk
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QS=$ROOT/target/qsnapfs
W=${BENCH_DIR:-$ROOT/target/bench-mount}
for t in qemu-img qemu-io fio; do command -v $t >/dev/null || { echo "missing $t: run make setup"; exit 1; }; done
rm -rf "$W"; mkdir -p "$W/img" "$W/mnt" "$W/tmpfs" "$W/many" "$W/mnt2"
cleanup() {
  set +e
  for m in "$W/mnt" "$W/mnt2"; do mountpoint -q "$m" && "$QS" umount "$m"; done
  mountpoint -q "$W/tmpfs" && umount "$W/tmpfs"
  rm -rf "$W"
}
trap cleanup EXIT
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }
gbps() { echo "scale=2; 2147483648 / $1 / 1000000000" | bc; }

echo "== building a fully allocated 2 GiB snapshot"
qemu-img create -q -f qcow2 "$W/img/vm.qcow2" 2G
qemu-io -f qcow2 -c 'write -P 0x5a 0 1G' -c 'write -P 0xa5 1G 1G' "$W/img/vm.qcow2" >/dev/null
qemu-img snapshot -c full "$W/img/vm.qcow2"
"$QS" mount "$W/img" "$W/mnt"
SNAP=$W/mnt/vm.qcow2/snapshots/full.raw

echo "== 1. dd bs=1M to /dev/null"
cold=()
for i in 1 2 3; do drop; t=$(secs dd if="$SNAP" of=/dev/null bs=1M); cold+=("$t"); echo "cold run $i: ${t}s = $(gbps "$t") GB/s"; done
for i in 1 2; do t=$(secs dd if="$SNAP" of=/dev/null bs=1M); echo "warm run $i (page cache): ${t}s = $(gbps "$t") GB/s"; done
drop; t=$(secs dd if="$W/img/vm.qcow2" of=/dev/null bs=1M); echo "for scale, the qcow2 file itself, cold: ${t}s = $(gbps "$t") GB/s"

echo "== 2. to a tmpfs file: qsnapfs+dd vs qemu-img convert -l"
mount -t tmpfs -o size=5G tmpfs "$W/tmpfs"
for i in 1 2 3; do
  rm -f "$W/tmpfs/"*; drop; q=$(secs dd if="$SNAP" of="$W/tmpfs/a.raw" bs=1M)
  rm -f "$W/tmpfs/"*; drop; c=$(secs qemu-img convert -l snapshot.id=1 -O raw "$W/img/vm.qcow2" "$W/tmpfs/b.raw")
  echo "run $i: qsnapfs+dd ${q}s, qemu-img convert ${c}s, ratio qsnapfs/qemu = $(echo "scale=2; $q / $c" | bc)"
done
# The floor of any one-stream copy into this tmpfs, without FUSE: qemu-img convert reads and
# writes with several threads, dd with one, and writing 2 GiB into tmpfs alone costs one core
# about as long as the whole convert takes.
rm -f "$W/tmpfs/"*; drop; t=$(secs dd if="$W/img/vm.qcow2" of="$W/tmpfs/c.raw" bs=1M)
echo "for scale, dd of the qcow2 file itself to tmpfs (cold): ${t}s"
rm -f "$W/tmpfs/"*; t=$(secs dd if=/dev/zero of="$W/tmpfs/z.raw" bs=1M count=2048)
echo "for scale, dd of 2 GiB of zeros to tmpfs: ${t}s"
# two dd streams through the mount, each copying one half into the same file
half() { dd if="$SNAP" of="$W/tmpfs/p.raw" bs=1M skip="$1" seek="$1" count=1024 conv=notrunc status=none; }
par2() { half 0 & half 1024 & wait; }
rm -f "$W/tmpfs/"*; drop; t=$(secs par2)
echo "two dd streams through the mount, one half each: ${t}s"
cmp "$W/tmpfs/p.raw" "$SNAP" || echo "two-stream copy differs!"
umount "$W/tmpfs"

echo "== 3. fio random 4 KiB reads (direct=1, psync, 2 jobs, 10 s)"
drop
fio --name=rand4k --filename="$SNAP" --readonly --rw=randread --bs=4k --direct=1 --ioengine=psync \
    --numjobs=2 --runtime=10 --time_based --group_reporting 2>&1 | grep -E 'IOPS|lat \(usec\).*avg' | head -3
drop
fio --name=rand4k-raw --filename="$W/img/vm.qcow2" --readonly --rw=randread --bs=4k --direct=1 --ioengine=psync \
    --numjobs=2 --runtime=10 --time_based --group_reporting 2>&1 | grep -E 'IOPS' | head -1 | sed 's/^/for scale, the qcow2 file itself: /'
"$QS" umount "$W/mnt"

echo "== 4. 100 images x 10 snapshots"
qemu-img create -q -f qcow2 "$W/many/template.qcow2" 64M
qemu-io -f qcow2 -c 'write -P 1 0 1M' "$W/many/template.qcow2" >/dev/null
for s in $(seq 1 10); do qemu-img snapshot -c "snap$s" "$W/many/template.qcow2"; done
for i in $(seq -w 1 100); do cp "$W/many/template.qcow2" "$W/many/vm$i.qcow2"; done
rm "$W/many/template.qcow2"
start=$(date +%s.%N)
"$QS" mount "$W/many" "$W/mnt2"
ls "$W/mnt2" >/dev/null
echo "mount until the first listing: $(echo "$(date +%s.%N) - $start" | bc)s"
find "$W/mnt2" -name '*.raw' | wc -l | sed 's/^/snapshot files: /'
for f in "$W"/mnt2/*/by-id/*.raw; do head -c 65536 "$f" >/dev/null; done
pid=$(pgrep -f -- "mount .*-f.* $W/mnt2\$" | head -1)
grep VmRSS /proc/"$pid"/status | sed 's/^/server resident memory after reading every snapshot: /'
"$QS" umount "$W/mnt2"

#!/usr/bin/env bash
# Mount benchmarks, each measured in the same run against the peers and QEMU on the same fully
# allocated 2 GiB snapshot. Figures, not pass/fail: read them and put them in the notes.
# Peers: qemu-nbd -r -l snapshot.id=1 --shared=8 under nbdfuse -r, and qemu-storage-daemon's FUSE
# export of the image's active layer (the same clusters, the same mapping work).
#   1. cold sequential dd bs=1M (page cache dropped before each): the first pass after mounting,
#      then three more; each peer three times; the qcow2 file itself
#   2. sequential dd bs=1M iflag=direct with the image in the page cache, against a dd of the
#      cached qcow2 file itself
#   3. random 4 KiB reads with fio (direct=1, psync, 2 jobs, 10 s), image in the page cache
#   4. the snapshot to a tmpfs file: qsnapfs + dd vs qemu-img convert -l
#   5. 100 images x 10 snapshots: time until the mount answers, resident memory after a full walk
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QS=$ROOT/target/qsnapfs
W=${BENCH_DIR:-$ROOT/target/bench-mount}
for t in qemu-img qemu-io fio qemu-nbd nbdfuse qemu-storage-daemon bc; do
  command -v $t >/dev/null || { echo "missing $t: run make setup"; exit 1; }
done
rm -rf "$W"; mkdir -p "$W/img" "$W/mnt" "$W/tmpfs" "$W/many" "$W/mnt2" "$W/nbd"
PEER_PIDS=()
cleanup() {
  set +e
  for m in "$W/mnt" "$W/mnt2"; do mountpoint -q "$m" && "$QS" umount "$m"; done
  mountpoint -q "$W/nbd" && fusermount -u "$W/nbd"
  for p in "${PEER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  mountpoint -q "$W/tmpfs" && umount "$W/tmpfs"
  rm -rf "$W"
}
trap cleanup EXIT
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }
gbps() { echo "scale=2; 2147483648 / $1 / 1000000000" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }
# cold NAME FILE RUNS: RUNS cold passes of dd bs=1M; prints each, sets COLD to the median GB/s
cold() {
  local name=$1 file=$2 runs=$3 r=() t i
  for i in $(seq 1 "$runs"); do drop; t=$(secs dd if="$file" of=/dev/null bs=1M); r+=("$(gbps "$t")"); done
  COLD=$(median "${r[@]}"); echo "$name: ${r[*]} GB/s, median $COLD"
}
# fio_iops FILE: IOPS of random 4 KiB direct reads, 2 jobs, 10 s
fio_iops() {
  fio --name=r --filename="$1" --readonly --rw=randread --bs=4k --direct=1 --ioengine=psync --numjobs=2 \
    --runtime=10 --time_based --group_reporting --output-format=terse | cut -d';' -f8
}

echo "== building a fully allocated 2 GiB snapshot"
IMG=$W/img/vm.qcow2
qemu-img create -q -f qcow2 "$IMG" 2G
qemu-io -f qcow2 -c 'write -P 0x5a 0 1G' -c 'write -P 0xa5 1G 1G' "$IMG" >/dev/null
qemu-img snapshot -c full "$IMG"
qemu-nbd -r -l snapshot.id=1 --shared=8 -t -k "$W/nbd.sock" -f qcow2 "$IMG" & PEER_PIDS+=($!)
for i in $(seq 1 50); do [ -S "$W/nbd.sock" ] && break; sleep 0.1; done
nbdfuse -r "$W/nbd" --unix "$W/nbd.sock" & PEER_PIDS+=($!)
touch "$W/qsd.raw"
qemu-storage-daemon --blockdev "driver=file,node-name=file,filename=$IMG,read-only=on" \
  --blockdev driver=qcow2,node-name=qcow2,file=file,read-only=on \
  --export "type=fuse,id=exp,node-name=qcow2,mountpoint=$W/qsd.raw,writable=off" & PEER_PIDS+=($!)
for i in $(seq 1 50); do [ -e "$W/nbd/nbd" ] && mountpoint -q "$W/qsd.raw" && break; sleep 0.1; done
NBD=$W/nbd/nbd; QSD=$W/qsd.raw
"$QS" mount --log-file "$W/server.log" "$W/img" "$W/mnt"
SNAP=$W/mnt/vm.qcow2/snapshots/full.raw
cmp -n 1048576 "$SNAP" "$NBD" && cmp -n 1048576 "$SNAP" "$QSD" || { echo "the peers read other bytes"; exit 1; }

echo "== 1. cold sequential dd bs=1M (page cache dropped before each run)"
"$QS" umount "$W/mnt"; "$QS" mount --log-file "$W/server.log" "$W/img" "$W/mnt"
drop; first=$(gbps "$(secs dd if="$SNAP" of=/dev/null bs=1M)")
echo "qsnapfs, first pass after mounting: $first GB/s"
cold "qsnapfs, later passes" "$SNAP" 3; q=$COLD
cold "qemu-nbd + nbdfuse" "$NBD" 3; n=$COLD
cold "qemu-storage-daemon FUSE export" "$QSD" 3; d=$COLD
cold "for scale, the qcow2 file itself" "$IMG" 1
echo "ratio qsnapfs / better peer: $(ratio "$q" "$(max "$n" "$d")"); first pass / later passes: $(ratio "$first" "$q")"

echo "== 2. sequential dd bs=1M iflag=direct, image in the page cache"
cat "$IMG" >/dev/null
r=(); for i in 1 2 3; do r+=("$(gbps "$(secs dd if="$IMG" of=/dev/null bs=1M)")"); done
f=$(median "${r[@]}"); echo "the cached qcow2 file itself (dd bs=1M): ${r[*]} GB/s, median $f"
for peer in "qsnapfs:$SNAP" "qemu-nbd + nbdfuse:$NBD" "qemu-storage-daemon:$QSD"; do
  r=(); for i in 1 2 3; do r+=("$(gbps "$(secs dd if="${peer#*:}" of=/dev/null bs=1M iflag=direct)")"); done
  m=$(median "${r[@]}"); echo "${peer%%:*}: ${r[*]} GB/s, median $m, ratio to the cached file $(ratio "$m" "$f")"
done

echo "== 3. fio random 4 KiB reads (direct=1, psync, 2 jobs, 10 s), image in the page cache"
cat "$IMG" >/dev/null
q=$(fio_iops "$SNAP"); echo "qsnapfs: $q IOPS"
n=$(fio_iops "$NBD"); echo "qemu-nbd + nbdfuse: $n IOPS"
d=$(fio_iops "$QSD"); echo "qemu-storage-daemon FUSE export: $d IOPS"
echo "for scale, the qcow2 file itself: $(fio_iops "$IMG") IOPS"
echo "ratio qsnapfs / better peer: $(ratio "$q" "$(max "$n" "$d")")"
pid=$(pgrep -f -- "mount .*-f.* $W/mnt\$" | head -1)
echo "server threads: $(ls /proc/"$pid"/task | wc -l) in all, $(cat /proc/"$pid"/task/*/comm | grep -c '^fuse-worker') FUSE workers"

echo "== 4. to a tmpfs file: qsnapfs+dd vs qemu-img convert -l"
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

"$QS" umount "$W/mnt"

echo "== 5. 100 images x 10 snapshots"
qemu-img create -q -f qcow2 "$W/many/template.qcow2" 64M
qemu-io -f qcow2 -c 'write -P 1 0 1M' "$W/many/template.qcow2" >/dev/null
for s in $(seq 1 10); do qemu-img snapshot -c "snap$s" "$W/many/template.qcow2"; done
for i in $(seq -w 1 100); do cp "$W/many/template.qcow2" "$W/many/vm$i.qcow2"; done
rm "$W/many/template.qcow2"
start=$(date +%s.%N)
"$QS" mount --log-file "$W/server2.log" "$W/many" "$W/mnt2"
ls "$W/mnt2" >/dev/null
echo "mount until the first listing: $(echo "$(date +%s.%N) - $start" | bc)s"
find "$W/mnt2" -name '*.raw' | wc -l | sed 's/^/snapshot files: /'
for f in "$W"/mnt2/*/by-id/*.raw; do head -c 65536 "$f" >/dev/null; done
pid=$(pgrep -f -- "mount .*-f.* $W/mnt2\$" | head -1)
grep VmRSS /proc/"$pid"/status | sed 's/^/server resident memory after reading every snapshot: /'
"$QS" umount "$W/mnt2"

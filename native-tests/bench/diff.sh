#!/usr/bin/env bash
# Benchmark: what changed between two snapshots, and the incremental export it allows. An image
# with an 8 GiB virtual disk (64 KiB clusters), fully allocated; snapshot A; 1% of its clusters
# (random ones, fixed seed) rewritten; snapshot B. Timed in the same run, page cache dropped
# before each timed command, each timed until its writes are on disk:
#   1. qsnapfs diff IMG A B, the whole process (JVM start included), and the bytes it read
#      (/proc/PID/io of the finished process: rchar, and read_bytes from the disk);
#   2. reading both snapshot files through the mount (cat A.raw B.raw), the least that any
#      comparison of their data must do;
#   3. the incremental in-place export (a raw copy of A made B) against a full export of B, and
#      qemu-img convert -l of B for reference. The result is compared with the full export;
#   4. a qcow2 delta of B over A.raw against a standalone qcow2 export of B and qemu-img convert
#      -O qcow2; the delta read through its backing file must equal B.
# Figures, not pass/fail (except a wrong result). Environment: BENCH_DIR (scratch on a disk, about
# 33 GiB free; default target/bench-diff), BENCH_RUNS (default 3), BENCH_GIB (default 8).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QS=$ROOT/target/qsnapfs
W=${BENCH_DIR:-$ROOT/target/bench-diff}
RUNS=${BENCH_RUNS:-3}
GIB=${BENCH_GIB:-8}
for t in qemu-img qemu-io python3 bc cmp; do
  command -v $t >/dev/null || { echo "missing $t: run make setup"; exit 1; }
done
[ -x "$QS" ] || { echo "$QS missing: run make build"; exit 1; }
rm -rf "$W"; mkdir -p "$W/mnt" "$W/img"
cleanup() {
  set +e
  mountpoint -q "$W/mnt" && "$QS" umount "$W/mnt"
  rm -rf "$W"
}
trap cleanup EXIT
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
secs() { local s=$(date +%s.%N); "$@" >/dev/null; sync; echo "$(date +%s.%N) - $s" | bc; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { echo "scale=1; $1 / $2" | bc; }

IMG=$W/img/vm.qcow2
clusters=$((GIB * 16384))
changed=$((clusters / 100))
echo "building a fully allocated ${GIB} GiB disk (64 KiB clusters), snapshot A, $changed of $clusters clusters rewritten, snapshot B"
qemu-img create -q -f qcow2 "$IMG" "${GIB}G"
writes=()
for ((g = 0; g < GIB; g++)); do writes+=(-c "write -P $((0x40 + g)) ${g}G 1G"); done
qemu-io -f qcow2 "${writes[@]}" "$IMG" >/dev/null
qemu-img snapshot -c A "$IMG"
python3 - "$clusters" "$changed" > "$W/rewrites" <<'EOF'
import random, sys
total, n = int(sys.argv[1]), int(sys.argv[2])
for c in sorted(random.Random(2026).sample(range(total), n)):
    print(f"write -P 0xee {c * 65536} 64k")
EOF
mapfile -t lines < "$W/rewrites"
args=(); for l in "${lines[@]}"; do args+=(-c "$l"); done
qemu-io -f qcow2 "${args[@]}" "$IMG" >/dev/null
qemu-img snapshot -c B "$IMG"
image_bytes=$(stat -c %s "$IMG")

# 1. diff: time and /proc/PID/io, read when the process has exited but is not yet reaped
cat > "$W/io.py" <<'EOF'
import os, subprocess, sys, time
start = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
end = time.monotonic()
io = dict(l.split(': ') for l in open(f"/proc/{p.pid}/io").read().split('\n') if l)
status = p.wait()
if status != 0:
    sys.exit(f"exit status {status}: {sys.argv[1:]}")
print(f"{end - start:.3f} {int(io['rchar'])} {int(io['read_bytes'])}")
EOF
d=(); rc=(); rb=()
for ((i = 1; i <= RUNS; i++)); do
  drop
  read -r t c b < <(python3 "$W/io.py" "$QS" diff "$IMG" A B)
  d+=("$t"); rc+=("$c"); rb+=("$b")
done
"$QS" diff "$IMG" A B | tail -1
echo "qsnapfs diff A B: ${d[*]} s; rchar ${rc[*]}; read_bytes ${rb[*]} (image file $image_bytes bytes)"
DIFF=$(median "${d[@]}")
echo "  reads $(echo "scale=4; 100 * $(median "${rc[@]}") / (2 * $GIB * 1073741824)" | bc)% of the two snapshots' bytes (rchar)"

# 2. both snapshot files read through the mount
"$QS" mount "$W/img" "$W/mnt"
m=()
for ((i = 1; i <= RUNS; i++)); do
  drop; m+=("$(secs cat "$W/mnt/vm.qcow2/snapshots/A.raw" "$W/mnt/vm.qcow2/snapshots/B.raw")")
done
"$QS" umount "$W/mnt"
READ=$(median "${m[@]}")
echo "reading A.raw and B.raw through the mount: ${m[*]} s"
echo "diff is $(ratio "$READ" "$DIFF")x faster than reading both snapshots (median $DIFF s vs $READ s; goal 25x)"

# 3. incremental in-place export against a full export
"$QS" export "$IMG" -s A "$W/A.raw"
full=(); inc=(); conv=()
for ((i = 1; i <= RUNS; i++)); do
  rm -f "$W/B-full.raw" "$W/B-qemu.raw"
  cp --sparse=always "$W/A.raw" "$W/B-inc.raw"
  drop; full+=("$(secs "$QS" export "$IMG" -s B "$W/B-full.raw")")
  drop; inc+=("$(secs "$QS" export "$IMG" -s B --since A --in-place "$W/B-inc.raw")")
  drop; conv+=("$(secs qemu-img convert -l snapshot.name=B -O raw "$IMG" "$W/B-qemu.raw")")
  cmp "$W/B-full.raw" "$W/B-inc.raw" || { echo "the incremental export differs from the full export"; exit 1; }
done
cmp "$W/B-full.raw" "$W/B-qemu.raw" || { echo "the full export differs from qemu-img's"; exit 1; }
FULL=$(median "${full[@]}"); INC=$(median "${inc[@]}"); CONV=$(median "${conv[@]}")
echo "full export of B: ${full[*]} s; incremental (--since A --in-place): ${inc[*]} s; qemu-img convert: ${conv[*]} s"
echo "incremental export is $(ratio "$FULL" "$INC")x faster than the full export (median $INC s vs $FULL s; goal 10x)," \
  "$(ratio "$CONV" "$INC")x faster than qemu-img convert"

# 4. qcow2: delta over A.raw, standalone, qemu-img convert -O qcow2
qd=(); qs=(); qq=()
for ((i = 1; i <= RUNS; i++)); do
  rm -f "$W/B-delta.qcow2" "$W/B.qcow2" "$W/B-qemu.qcow2"
  drop; qd+=("$(secs "$QS" export "$IMG" -s B -O qcow2 --since A -B A.raw "$W/B-delta.qcow2")")
  drop; qs+=("$(secs "$QS" export "$IMG" -s B -O qcow2 "$W/B.qcow2")")
  drop; qq+=("$(secs qemu-img convert -l snapshot.name=B -O qcow2 "$IMG" "$W/B-qemu.qcow2")")
done
qemu-img compare -q "$W/B-delta.qcow2" "$W/B-full.raw" || { echo "the qcow2 delta does not read as B"; exit 1; }
echo "qcow2 delta of B over A.raw: ${qd[*]} s ($(stat -c %s "$W/B-delta.qcow2") bytes); standalone: ${qs[*]} s;" \
  "qemu-img convert -O qcow2: ${qq[*]} s"
echo "the qcow2 delta is $(ratio "$(median "${qs[@]}")" "$(median "${qd[@]}")")x faster than a standalone qcow2 export," \
  "$(ratio "$(median "${qq[@]}")" "$(median "${qd[@]}")")x faster than qemu-img convert -O qcow2"

#!/usr/bin/env bash
# Benchmark: `qsnapfs export` against `qemu-img convert -l snapshot.id=N -O raw` on a fully
# allocated 2 GiB snapshot, both writing to the same file system (not tmpfs), page cache dropped
# before every timed run (needs root; otherwise the runs are warm and the script says so); each
# run is timed until its output is on disk (a sync after the command, inside the timing).
#
# Environment: BENCH_SIZE_MIB (default 2048), BENCH_RUNS (runs per tool, default 5),
# BENCH_DIR (scratch directory, default target/bench under the repository; must not be tmpfs),
# BENCH_MAX_RATIO (default 1.0: fail if qsnapfs's median time exceeds qemu-img's by more).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
qsnapfs="$repo/target/qsnapfs"
mib=${BENCH_SIZE_MIB:-2048}
runs=${BENCH_RUNS:-5}
max_ratio=${BENCH_MAX_RATIO:-1.0}
dir=${BENCH_DIR:-$repo/target/bench}
[ -x "$qsnapfs" ] || { echo "target/qsnapfs missing: run make build"; exit 1; }
mkdir -p "$dir"
fstype=$(stat -f -c %T "$dir")
if [ "$fstype" = tmpfs ] || [ "$fstype" = ramfs ]; then
  echo "$dir is on $fstype; set BENCH_DIR to a directory on a disk"; exit 1
fi
trap 'rm -f "$dir/export-bench.qcow2" "$dir/export-out.raw" "$dir/export-ref.raw"' EXIT

img="$dir/export-bench.qcow2"
out="$dir/export-out.raw"
echo "building a fully allocated $mib MiB image in $dir ($fstype)"
rm -f "$img"
qemu-img create -q -f qcow2 "$img" "${mib}M"
writes=()  # qemu-io writes at most 2 GiB - 512 per request: 256 MiB pieces
for ((m = 0; m < mib; m += 256)); do
  writes+=(-c "write -P 0x5a ${m}M $((mib - m < 256 ? mib - m : 256))M")
done
qemu-io -f qcow2 "${writes[@]}" "$img" >/dev/null
qemu-img snapshot -c bench "$img"
# Change the active layer, so that reading the active L1 by mistake would be caught below.
qemu-io -f qcow2 -c "write -P 0x33 0 1M" "$img" >/dev/null
id=$(qemu-img snapshot -l "$img" | awk '$2 == "bench" { print $1 }')

cold=yes
# The previous output was just deleted: flush, give the file system a moment to finish
# discarding its blocks, then empty the page cache so both tools read the image from disk.
drop_caches() {
  sync
  sleep 2
  if ! { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null; then cold=no; fi
}

# Seconds (to the microsecond) that a command takes until its output is on disk, printed on
# stdout. The sync is timed for both tools: without it the figure is mostly how much dirty data
# the kernel happened to write back before the process exited (qemu-img alone ranged 1.0-3.0 s).
timed() {
  local start end
  start=$(date +%s%N)
  "$@"
  sync
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.6f\n", ns / 1e9 }'
}

qemu_cmd=(qemu-img convert -l "snapshot.id=$id" -O raw "$img" "$out")
ours_cmd=("$qsnapfs" export -q "$img" --snapshot "$id" "$out")
qemu_times=(); ours_times=()
for ((i = 1; i <= runs; i++)); do
  # Alternate which tool goes first, so neither always runs on a fresher disk.
  for tool in $( ((i % 2)) && echo "qemu ours" || echo "ours qemu"); do
    rm -f "$out"; drop_caches
    if [ "$tool" = qemu ]; then
      t=$(timed "${qemu_cmd[@]}"); qemu_times+=("$t")
    else
      t=$(timed "${ours_cmd[@]}"); ours_times+=("$t")
    fi
    printf 'run %d %-8s %6.3f s\n' "$i" "$tool" "$t"
  done
done

# Same bytes as QEMU's (checked once, untimed).
qemu-img convert -l "snapshot.id=$id" -O raw "$img" "$dir/export-ref.raw"
"${ours_cmd[@]}"
cmp "$out" "$dir/export-ref.raw"

best() { printf '%s\n' "$@" | sort -g | head -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
q=$(median "${qemu_times[@]}")
o=$(median "${ours_times[@]}")
ratio=$(awk -v o="$o" -v q="$q" 'BEGIN { printf "%.3f", o / q }')
echo "qemu-img: ${qemu_cmd[*]}"
echo "qsnapfs:  ${ours_cmd[*]}"
printf 'qemu-img runs: %s\nqsnapfs runs:  %s\n' "${qemu_times[*]}" "${ours_times[*]}"
printf 'best: qemu-img %.3f s, qsnapfs %.3f s\n' "$(best "${qemu_times[@]}")" "$(best "${ours_times[@]}")"
printf 'median of %d runs (cold cache: %s): qemu-img %.3f s, qsnapfs %.3f s, ratio qsnapfs/qemu-img %s\n' \
  "$runs" "$cold" "$q" "$o" "$ratio"
if awk -v r="$ratio" -v m="$max_ratio" 'BEGIN { exit !(r > m) }'; then
  echo "qsnapfs export is slower than qemu-img convert (ratio above $max_ratio)"; exit 1
fi

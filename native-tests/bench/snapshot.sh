#!/usr/bin/env bash
# Benchmark: `qsnapfs snapshot create/delete` against `qemu-img snapshot -c/-d` on an image with
# about two million allocated clusters (1 GiB of data at 512-byte clusters). Each run copies one
# base image twice, times qsnapfs on one copy and qemu-img on the other in the same run (which
# goes first alternates), creating snapshot s1 and then deleting it. The page cache is dropped
# before every timed command (needs root; otherwise both copies are read into the cache before
# every timed command, so both run warm, and the script says so). Each command is timed until
# its writes are on disk (a sync after it, inside the timing). Untimed, after every step: both
# copies must pass `qemu-img check` (no errors, no leaks) and list the same snapshot names.
#
# Environment: BENCH_DATA_MIB (data written, default 1024: 2097152 clusters), BENCH_RUNS (runs,
# default 3), BENCH_DIR (scratch directory, default target/bench under the repository; must not
# be tmpfs; needs about 3.5 times the data), BENCH_MAX_RATIO (default 1.0: fail if qsnapfs's
# median time exceeds qemu-img's by more, for create or for delete), BENCH_QSNAPFS (the qsnapfs
# to time, default target/qsnapfs), BENCH_TIMEOUT (seconds any one timed command may take,
# default 300; the benchmark fails when one takes longer).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
qsnapfs=${BENCH_QSNAPFS:-$repo/target/qsnapfs}
mib=${BENCH_DATA_MIB:-1024}
runs=${BENCH_RUNS:-3}
max_ratio=${BENCH_MAX_RATIO:-1.0}
limit=${BENCH_TIMEOUT:-300}
dir=${BENCH_DIR:-$repo/target/bench}
[ -x "$qsnapfs" ] || { echo "$qsnapfs missing: run make build"; exit 1; }
for tool in qemu-img qemu-io; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing tool '$tool': run make setup"; exit 1; }
done
mkdir -p "$dir"
fstype=$(stat -f -c %T "$dir")
if [ "$fstype" = tmpfs ] || [ "$fstype" = ramfs ]; then
  echo "$dir is on $fstype; set BENCH_DIR to a directory on a disk"; exit 1
fi
base="$dir/snapshot-bench-base.qcow2"
ours_img="$dir/snapshot-bench-ours.qcow2"
qemu_img="$dir/snapshot-bench-qemu.qcow2"
trap 'rm -f "$base" "$ours_img" "$qemu_img"' EXIT

echo "building an image with $mib MiB of data in 512-byte clusters in $dir ($fstype)"
rm -f "$base"
qemu-img create -q -f qcow2 -o cluster_size=512 "$base" "${mib}M"
writes=()  # qemu-io writes at most 2 GiB - 512 per request: 256 MiB pieces
for ((m = 0; m < mib; m += 256)); do
  writes+=(-c "write -P 0x5a ${m}M $((mib - m < 256 ? mib - m : 256))M")
done
qemu-io -f qcow2 "${writes[@]}" "$base" >/dev/null
qemu-img check "$base" | sed -n 's/^\([0-9]*\/[0-9]*\) = .*allocated.*/allocated clusters: \1/p'

cold=yes
# Flush, give the file system a moment, then empty the page cache so both tools start from disk.
# Without root, read both copies instead, so both start with everything cached.
prepare_cache() {
  sync
  sleep 1
  if ! { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null; then
    cold=no
    cat "$ours_img" "$qemu_img" >/dev/null
  fi
}

# Seconds (to the microsecond) a command takes until its writes are on disk, printed on stdout.
# A command that fails or outlasts BENCH_TIMEOUT ends the benchmark (set -e does not reach into
# the command substitution that calls this, hence the explicit exit statuses).
timed() {
  local start end status=0
  start=$(date +%s%N)
  timeout "$limit" "$@" >/dev/null || status=$?
  if [ "$status" -ne 0 ]; then
    if [ "$status" -eq 124 ]; then echo "took longer than $limit s (killed): $*" >&2; else echo "exited $status: $*" >&2; fi
    return 1
  fi
  sync
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.6f\n", ns / 1e9 }'
}

# check_both STEP: both copies clean, and the same snapshot names.
check_both() {
  local img names=()
  for img in "$ours_img" "$qemu_img"; do
    if ! out=$(qemu-img check "$img" 2>&1); then
      echo "qemu-img check $(basename "$img") after $1:"; echo "$out"; exit 1
    fi
    names+=("$(qemu-img snapshot -l "$img" | awk 'NR > 2 { print $2 }' | tr '\n' ' ')")
  done
  [ "${names[0]}" = "${names[1]}" ] || { echo "after $1: qsnapfs lists '${names[0]}', qemu-img '${names[1]}'"; exit 1; }
}

create_ours=(); create_qemu=(); delete_ours=(); delete_qemu=()
for ((i = 1; i <= runs; i++)); do
  cp "$base" "$ours_img"
  cp "$base" "$qemu_img"
  for op in create delete; do
    for tool in $( ((i % 2)) && echo "qemu ours" || echo "ours qemu"); do
      prepare_cache
      case "$op/$tool" in
        create/ours) t=$(timed "$qsnapfs" snapshot create "$ours_img" s1) || exit 1; create_ours+=("$t") ;;
        create/qemu) t=$(timed qemu-img snapshot -c s1 "$qemu_img") || exit 1; create_qemu+=("$t") ;;
        delete/ours) t=$(timed "$qsnapfs" snapshot delete "$ours_img" s1) || exit 1; delete_ours+=("$t") ;;
        delete/qemu) t=$(timed qemu-img snapshot -d s1 "$qemu_img") || exit 1; delete_qemu+=("$t") ;;
      esac
      printf 'run %d %-6s %-8s %7.3f s\n' "$i" "$op" "$tool" "$t"
    done
    check_both "$op in run $i"
  done
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
slow=0
report() {
  local op=$1 q o ratio
  shift
  q=$(median "${@:1:$runs}")
  o=$(median "${@:$((runs + 1))}")
  ratio=$(awk -v o="$o" -v q="$q" 'BEGIN { printf "%.3f", o / q }')
  printf '%-6s median of %d runs (cold cache: %s): qemu-img %.3f s, qsnapfs %.3f s, ratio qsnapfs/qemu-img %s\n' \
    "$op" "$runs" "$cold" "$q" "$o" "$ratio"
  if awk -v r="$ratio" -v m="$max_ratio" 'BEGIN { exit !(r > m) }'; then
    echo "qsnapfs snapshot $op is slower than qemu-img (ratio above $max_ratio)"; slow=1
  fi
}
printf 'create runs: qemu-img %s; qsnapfs %s\n' "${create_qemu[*]}" "${create_ours[*]}"
printf 'delete runs: qemu-img %s; qsnapfs %s\n' "${delete_qemu[*]}" "${delete_ours[*]}"
report create "${create_qemu[@]}" "${create_ours[@]}"
report delete "${delete_qemu[@]}" "${delete_ours[@]}"
[ "$slow" -eq 0 ]

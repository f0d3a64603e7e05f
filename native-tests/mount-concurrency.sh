#!/usr/bin/env bash
# Several readers of different snapshots at once all get the right bytes.
source "$(dirname "$0")/lib.bash"
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"
qemu-img create -q -f qcow2 -o cluster_size=4k "$D/vm.qcow2" 96M
for i in 1 2 3 4; do
  qemu-io -f qcow2 -c "write -P $((i * 17)) $(( (i - 1) * 8 ))M 40M" -c "write -c -P $i $((80 + i))M 64k" "$D/vm.qcow2" >/dev/null
  qemu-img snapshot -c "s$i" "$D/vm.qcow2"
  oracle "$D/vm.qcow2" "$i" "$T/s$i.raw"
done
qs_mount "$D" "$M"
for round in 1 2; do
  pids=()
  for i in 1 2 3 4; do
    ( cmp "$M/vm.qcow2/snapshots/s$i.raw" "$T/s$i.raw" ) & pids+=($!)
    ( dd if="$M/vm.qcow2/by-id/$i.raw" bs=64k skip=$((i * 100)) count=300 status=none | cmp - <(dd if="$T/s$i.raw" bs=64k skip=$((i * 100)) count=300 status=none) ) & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "a concurrent reader got wrong bytes (round $round)"; done
done
echo "mount-concurrency: ok"

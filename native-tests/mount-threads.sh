#!/usr/bin/env bash
# The server's threads are its own: a pool of workers that grows to what the load needs, never past
# its cap (64), and once grown a 10 s random-read run starts no new thread at all (libfuse's own loop
# went through hundreds of native threads and tens of thousands of Java threads in 4 s).
source "$(dirname "$0")/lib.bash"
need fio jcmd
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"
qemu-img create -q -f qcow2 "$D/vm.qcow2" 256M
qemu-io -f qcow2 -c 'write -P 5 0 256M' "$D/vm.qcow2" >/dev/null
qemu-img snapshot -c s "$D/vm.qcow2"
qs_mount "$D" "$M"; pid=$(daemon_pid "$M")
randread() {
  fio --name=r --filename="$M/vm.qcow2/snapshots/s.raw" --rw=randread --bs=4k --direct=1 --numjobs=2 \
    --time_based --runtime="$1" --ioengine=psync --group_reporting --output-format=terse | cut -d';' -f8
}
workers() { cat /proc/"$pid"/task/*/comm | grep -c '^fuse-worker' || true; }
tasks() { ls /proc/"$pid"/task | sort -n; }

# a garbage collection in the server leaves every callback alive (jnr-ffi holds them weakly)
jcmd "$pid" GC.run >/dev/null || fail "jcmd GC.run"
oracle "$D/vm.qcow2" 1 "$T/s.raw"
cmp "$M/vm.qcow2/snapshots/s.raw" "$T/s.raw" || fail "read after a garbage collection in the server"
randread 3 >/dev/null
tasks > "$T/before"
iops=$(randread 10)
tasks > "$T/after"
new=$(comm -13 "$T/before" "$T/after" | while read -r t; do cat "/proc/$pid/task/$t/comm" 2>/dev/null || echo "$t (gone)"; done)
[ -z "$new" ] || fail "threads started during the 10 s run: $(echo "$new" | tr '\n' ' ')"
n=$(workers)
[ "$n" -ge 1 ] && [ "$n" -le 64 ] || fail "$n workers, expected 1 to 64"
echo "mount-threads: $n workers, $(wc -l < "$T/after") threads in all, ${iops} IOPS, none started in 10 s"

# callbacks that take long grow the pool, up to its cap and no further: 70 images each get a delete
# request for a snapshot that is open, which holds a worker for the 250 ms EBUSY wait (the kernel
# lets one create at a time into a directory, so each image's request directory gives one)
for i in $(seq 1 70); do
  qemu-img create -q -f qcow2 "$D/i$i.qcow2" 1M; qemu-img snapshot -c s "$D/i$i.qcow2"
done
for i in $(seq 1 70); do
  for t in $(seq 1 30); do [ -e "$M/i$i.qcow2/snapshots/s.raw" ] && break; sleep 0.1; done
  exec {fd}< "$M/i$i.qcow2/snapshots/s.raw"
done
for round in 1 2; do
  for i in $(seq 1 70); do touch "$M/i$i.qcow2/control/delete/s" 2>/dev/null & done
  wait
done
n=$(workers)
[ "$n" -eq 64 ] || fail "$n workers after 140 slow requests, 70 at a time: expected the cap, 64"
dd if="$M/vm.qcow2/by-id/1.raw" of=/dev/null bs=1M count=16 iflag=direct status=none || fail "read after the slow requests"
kill -0 "$pid" || fail "the server died"
echo "mount-threads: $n workers after 140 slow requests, 70 at a time"

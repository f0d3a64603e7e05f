#!/usr/bin/env bash
# Soak (60 s, SOAK_SECONDS to change): four readers of different snapshots, a reader of snapshots
# that come and go, requests through control/ every half second and qemu-img snapshot -c/-d by
# another program, all at once. Every read returns the snapshot's true bytes (or, for a snapshot
# deleted meanwhile, ENOENT or EIO, or EBUSY while a request deletes it); the server never dies;
# its threads stay under the cap;
# qemu-img check is clean at the end.
source "$(dirname "$0")/lib.bash"
SECS=${SOAK_SECONDS:-60}
D=$T/images; M=$T/mnt; mkdir -p "$D" "$M"
I=$D/vm.qcow2
qemu-img create -q -f qcow2 -o cluster_size=16k "$I" 64M
for i in 1 2 3 4; do
  qemu-io -f qcow2 -c "write -P $((i * 13)) $(( (i - 1) * 8 ))M 24M" -c "write -c -P $i $((50 + i))M 256k" "$I" >/dev/null
  qemu-img snapshot -c "s$i" "$I"
  oracle "$I" "$i" "$T/s$i.raw"; sum "$T/s$i.raw" > "$T/s$i.sum"
done
qemu-io -f qcow2 -c 'write -P 99 60M 2M' "$I" >/dev/null
qemu-img convert -O raw "$I" "$T/active.raw"; active=$(sum "$T/active.raw")
qs_mount "$D" "$M"; pid=$(daemon_pid "$M")
V=$M/vm.qcow2; ERR=$T/errors; : > "$ERR"
end=$((SECONDS + SECS))
# background loops run with set +e: a failed command is a finding to record, not the loop's end
direct_sum() { dd if="$1" bs=1M iflag=direct status=none 2>"$2" | sha256sum | cut -d' ' -f1; }

for i in 1 2 3 4; do
  ( set +e; n=0
    while [ $SECONDS -lt $end ]; do
      got=$(direct_sum "$V/snapshots/s$i.raw" "$T/r$i.err")
      if [ -s "$T/r$i.err" ]; then echo "reader s$i: $(cat "$T/r$i.err")" >> "$ERR"
      elif [ "$got" != "$(cat "$T/s$i.sum")" ]; then echo "reader s$i: wrong bytes in pass $n" >> "$ERR"; fi
      n=$((n + 1))
    done
    echo "$n" > "$T/r$i.passes" ) &
done
# snapshots made from the unchanging active layer all read as it does
( set +e; n=0
  while [ $SECONDS -lt $end ]; do
    f=$(ls "$V/by-id" 2>/dev/null | grep -vx '[1-4].raw' | shuf -n 1)
    [ -n "$f" ] || { sleep 0.1; continue; }
    got=$(direct_sum "$V/by-id/$f" "$T/c.err")
    if [ -s "$T/c.err" ]; then
      # gone before the open, deleted while open, or being deleted by a request right then
      grep -qE "No such file|Input/output error|Device or resource busy" "$T/c.err" \
        || echo "churn reader $f: $(cat "$T/c.err")" >> "$ERR"
    elif [ "$got" != "$active" ]; then echo "churn reader $f: wrong bytes" >> "$ERR"; fi
    n=$((n + 1))
  done
  echo "$n" > "$T/c.passes" ) &
( set +e; i=0
  while [ $SECONDS -lt $end ]; do
    i=$((i + 1))
    for req in "create/c$i" "delete/c$((i - 3))" "apply/s$(( i % 4 + 1 ))"; do
      out=$(touch "$V/control/$req" 2>&1) || case $out in
        *"Device or resource busy"*|*"No such file"*|*"File exists"*) ;;
        *) echo "request $req: $out" >> "$ERR" ;;
      esac
    done
    sleep 0.5
  done ) &
( set +e; i=0
  while [ $SECONDS -lt $end ]; do
    i=$((i + 1))
    for op in "-c q$i" "-d q$((i - 3))"; do
      # qemu-img refuses while a request holds the image's locks, and -d of a name it failed to create
      out=$(qemu-img snapshot $op "$I" 2>&1) || case $out in
        *"Failed to get"*"lock"*|*"Can't find the snapshot"*|*"snapshot not found"*) ;;
        *) echo "qemu-img snapshot $op: $out" >> "$ERR" ;;
      esac
    done
    sleep 0.7
  done ) &
max=0
while [ $SECONDS -lt $end ]; do
  kill -0 "$pid" 2>/dev/null || echo "the server died" >> "$ERR"
  n=$(cat /proc/"$pid"/task/*/comm 2>/dev/null | grep -c '^fuse-worker' || true)
  [ "$n" -gt "$max" ] && max=$n
  sleep 1
done
wait
kill -0 "$pid" || fail "the server died"
[ ! -s "$ERR" ] || fail "$(sort "$ERR" | uniq -c | head -20)
control/log, lines that are not plain successes:
$(grep -v ': ok, id' "$V/control/log" | grep -v -E ': (EBUSY|ENOENT|EEXIST): ' | tail -20)"
[ "$max" -le 64 ] || fail "$max workers, the cap is 64"
unexpected=$(grep -F ': EIO' "$V/control/log" | grep -v 'was deleted by another program while this file was open' || true)
[ -z "$unexpected" ] || fail "unexpected EIO in control/log: $unexpected"
ok=$(grep -c ': ok, id' "$V/control/log" || true)
"$QS" umount "$M"
qemu-img check -q "$I" || fail "qemu-img check after the soak"
for i in 1 2 3 4; do oracle "$I" "$i" "$T/after.raw"; cmp "$T/after.raw" "$T/s$i.raw" || fail "s$i changed"; done
echo "mount-soak: ${SECS} s; passes per reader: $(cat "$T"/r?.passes | tr '\n' ' ')churn reads $(cat "$T/c.passes");" \
  "$ok requests ok; at most $max workers"

#!/usr/bin/env bash
# make install DESTDIR=...: the installed launcher runs every command from another directory (and
# with the class-data archive that dump-cds makes for the installed jar), man -l renders every
# page and each page lists every option --help lists, bash completion offers the subcommands and
# options, and make uninstall leaves no file behind.
source "$(dirname "$0")/lib.bash"
need make man bash
R=$T/root P=/usr/local
make -s -C "$ROOT" install DESTDIR="$R" >"$T/install.out" || fail "make install: $(cat "$T/install.out")"
Q=$R$P/bin/qsnapfs
[ -x "$Q" ] || fail "no launcher at $P/bin/qsnapfs"
[ ! -e "$R$P/lib/qsnapfs/qsnapfs.jsa" ] || fail "an archive dumped under DESTDIR would be tied to the staging path"

# every command, from another directory
W=$T/work; mkdir -p "$W" "$T/mnt"; cd "$W"
qemu-img create -q -f qcow2 web01.qcow2 16M
qemu-io -f qcow2 -c 'write -P 0x5a 0 2M' web01.qcow2 >/dev/null
qemu-img snapshot -c monday web01.qcow2
qemu-io -f qcow2 -c 'write -P 0x6b 4M 1M' web01.qcow2 >/dev/null
"$Q" --version | grep -q '^qsnapfs [0-9]' || fail "--version"
"$Q" info web01.qcow2 | grep -q monday || fail "info does not list the snapshot"
"$Q" snapshot create web01.qcow2 tuesday
"$Q" snapshot list web01.qcow2 > ours.txt; qemu-img snapshot -l web01.qcow2 > qemu.txt
diff -u qemu.txt ours.txt || fail "snapshot list differs from qemu-img's"
"$Q" diff web01.qcow2 monday tuesday | grep -q . || fail "diff printed nothing"
"$Q" export -q web01.qcow2 -s monday monday.raw
oracle web01.qcow2 1 expected.raw; cmp monday.raw expected.raw || fail "export differs from qemu-img convert"
"$Q" check web01.qcow2 | grep -q "No errors" || fail "check"
"$Q" snapshot apply web01.qcow2 monday
"$Q" snapshot delete web01.qcow2 tuesday
assert_eq "$(qemu-img snapshot -l web01.qcow2 | grep -c tuesday || true)" "0" "tuesday deleted"
CLEANUP_MOUNTS+=("$T/mnt")
"$Q" mount --log-file "$T/server.log" "$W" "$T/mnt"
assert_eq "$(sum "$T/mnt/web01.qcow2/snapshots/monday.raw")" "$(sum expected.raw)" "snapshot through the installed mount"
"$Q" umount "$T/mnt"
for i in $(seq 1 50); do mounted "$T/mnt" || break; sleep 0.1; done
! mounted "$T/mnt" || fail "still mounted after qsnapfs umount"
echo "installed launcher: every command ok"

# the class-data archive is dumped for the jar where it lies; the launcher then loads qsnapfs's
# own classes from it
"$R$P/lib/qsnapfs/dump-cds" || fail "dump-cds failed"
QSNAPFS_JAVA_OPTS=-Xlog:class+load=info "$Q" snapshot list web01.qcow2 > classes.txt
grep -q 'io.qsnapfs.cli.Main source: shared objects file' classes.txt \
  || fail "the installed launcher does not use the archive: $(grep io.qsnapfs.cli.Main classes.txt)"
start() { # median wall time of 5 starts, in ms
  for i in 1 2 3 4 5; do
    local s=$(date +%s%N); "$Q" snapshot list web01.qcow2 >/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 ))
  done | sort -n | sed -n 3p
}
with=$(start); mv "$R$P/lib/qsnapfs/qsnapfs.jsa" "$T/jsa"; without=$(start); mv "$T/jsa" "$R$P/lib/qsnapfs/qsnapfs.jsa"
echo "installed snapshot list, median of 5: ${with} ms with the archive, ${without} ms without"

# man pages: one per command, each renders without warnings and lists what --help lists
pages=$(cd "$R$P/share/man/man1" && ls)
expected=$(printf '%s\n' qsnapfs.1 qsnapfs-info.1 qsnapfs-snapshot.1 qsnapfs-snapshot-list.1 qsnapfs-snapshot-create.1 \
  qsnapfs-snapshot-delete.1 qsnapfs-snapshot-apply.1 qsnapfs-diff.1 qsnapfs-export.1 qsnapfs-check.1 qsnapfs-mount.1 \
  qsnapfs-umount.1 | sort)
assert_eq "$(echo "$pages" | sort)" "$expected" "installed man pages"
for page in $pages; do
  name=${page%.1}
  MANWIDTH=100 man --warnings -l "$R$P/share/man/man1/$page" >"$T/page.txt" 2>"$T/page.err" || fail "man -l $page failed"
  [ ! -s "$T/page.err" ] || fail "man -l $page warns: $(cat "$T/page.err")"
  grep -q "^NAME" "$T/page.txt" && grep -q "^SYNOPSIS" "$T/page.txt" || fail "$page has no NAME or SYNOPSIS"
  read -r -a words <<<"${name//-/ }"
  "$Q" "${words[@]:1}" --help >"$T/help.txt"
  for opt in $(grep -oE -- '(^|[ ,[])--?[a-zA-Z][a-zA-Z-]*' "$T/help.txt" | grep -oE -- '--?[a-zA-Z][a-zA-Z-]*' | sort -u); do
    grep -qF -- "$opt" "$T/page.txt" || fail "$page lacks $opt, which '${words[*]} --help' lists"
  done
done
man -l "$R$P/share/man/man1/qsnapfs-mount.1" 2>/dev/null | grep -q "fuse.qsnapfs" || fail "qsnapfs-mount(1) says nothing of fstab"
echo "man pages: $(echo "$pages" | wc -l) pages render and match --help"

# bash completion: what bash offers after 'qsnapfs ', 'qsnapfs snapshot ', 'qsnapfs mount --'
# (compopt, which sets how bash shows the words, works only while bash itself completes: a no-op here)
complete_words() {
  bash -c 'compopt() { :; }; source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    complete -p qsnapfs >/dev/null || { echo "no completion registered for qsnapfs"; exit 1; }
    _complete_qsnapfs; printf "%s\n" "${COMPREPLY[@]}"' _ "$R$P/share/bash-completion/completions/qsnapfs" "$@"
}
offers() { # offers EXPECTED... -- WORDS...: completing the last of WORDS offers every EXPECTED word
  local expected=() got
  while [ "$1" != -- ]; do expected+=("$1"); shift; done; shift
  got=$(complete_words "$@")
  for w in "${expected[@]}"; do
    grep -qxF -- "$w" <<<"$got" || fail "completing '$*' does not offer $w, only: $(echo $got)"
  done
}
offers info snapshot diff export check mount umount -- qsnapfs ""
offers list create delete apply -- qsnapfs snapshot ""
offers --read-only --options --foreground --log-file --help -- qsnapfs mount --
offers --snapshot --since -- qsnapfs export --s
offers --output -- qsnapfs info --o
echo "completion: subcommands and options offered"

# uninstall: nothing of qsnapfs left, only the standard directories install -d made
cd "$ROOT"
make -s uninstall DESTDIR="$R" >"$T/uninstall.out" || fail "make uninstall: $(cat "$T/uninstall.out")"
left=$(find "$R" ! -type d; find "$R" -name '*qsnapfs*')
[ -z "$left" ] || fail "make uninstall left: $left"
echo "install: ok"

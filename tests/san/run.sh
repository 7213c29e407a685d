#!/bin/bash
# tests/san/run.sh — the unit tests under ASan+UBSan (LeakSanitizer on), then
# the sanitized lkvm through its command-line and error paths: each must
# exit with its documented status, one clear line, and no sanitizer report
# (a leak at exit is a failure). Ends with "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# 1. unit tests, sanitized; their own summary line counts as one result
if make -s check SANITIZE=1 -j"$(nproc)" > build/san-unit.log 2>&1 &&
		grep -Eq '^[0-9]+ passed, 0 failed$' build/san-unit.log &&
		! grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' build/san-unit.log; then
	ok "unit-tests-sanitized ($(grep -E '^[0-9]+ passed' build/san-unit.log | tail -n 1))"
else
	grep -E 'FAIL|Sanitizer|runtime error' build/san-unit.log | head -n 20
	ko unit-tests-sanitized "see build/san-unit.log"
fi

# 2. the sanitized binary's exit paths
make -s SANITIZE=1 -j"$(nproc)" > build/san-build.log 2>&1 || { ko build "make SANITIZE=1"; echo "$pass passed, $fail failed"; exit 1; }
bin=$(ls -t build/*-san/lkvm | head -n 1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 UBSAN_OPTIONS=halt_on_error=1:exitcode=98
echo 'not a kernel' > "$tmp/text"
# a minimal arm64 Image header: text_offset 0, image_size 64 KiB, flags 0, magic at 0x38
{ head -c 56 /dev/zero; printf 'ARM\x64'; } > "$tmp/Image"
truncate -s 4096 "$tmp/Image"
: > "$tmp/empty.img"
chmod 000 "$tmp/empty.img"
# case NAME WANT_RC GREP ARGS...: lkvm ARGS exits WANT_RC, stderr matches GREP
case_() {
	local name=$1 want=$2 pat=$3 rc
	shift 3
	"$bin" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
	rc=$?
	if grep -Eq 'Sanitizer|runtime error' "$tmp/err"; then
		ko "$name" "sanitizer report: $(grep -Em1 'Sanitizer|runtime error' "$tmp/err")"
	elif [ "$rc" != "$want" ]; then
		ko "$name" "exit $rc, wanted $want: $(head -c 300 "$tmp/err")"
	elif [ -n "$pat" ] && ! grep -Eq "$pat" "$tmp/err" "$tmp/out"; then
		ko "$name" "no line matching /$pat/: $(head -c 300 "$tmp/err")"
	else
		ok "$name"
	fi
}
case_ help 0 'Usage|usage' run --help
case_ version 0 '^lkvm ' version
case_ bad-option 1 'unknown option --bogus' run -k "$tmp/Image" --bogus
if [ "$(uname -m)" = aarch64 ]; then
	# kvm-unit-tests' runner keys on kvmtool's words for a missing kernel
	case_ missing-kernel 1 'cannot open kernel .*Fatal: Unable to open kernel' run -k "$tmp/nonexistent"
	case_ not-a-kernel 1 'is not an arm64 Image' run -k "$tmp/text"
else
	# the VM (and its vGIC) comes before any file: here, no backend
	case_ no-backend-before-files 1 'no KVM backend' run -k "$tmp/nonexistent"
fi
case_ bad-mem 1 '' run -k "$tmp/Image" -m lots
case_ bad-disk-spec 1 '' run -k "$tmp/Image" -d "$tmp/empty.img,format=vmdk"
case_ bad-net 1 '' run -k "$tmp/Image" -n mode=carrier-pigeon
case_ list-none 0 '' list
case_ stop-unknown 1 '' stop no-such-guest-$$
case_ test-missing-matrix 2 '' test "$tmp/no-such-matrix"
# lkvm list removes only its own stale sockets, and refuses a symlinked or
# group-writable control directory (issue 14): the user's files stay
rt=$tmp/rt
mkdir -p "$rt/lkvm" "$rt/elsewhere" && chmod 700 "$rt/lkvm"
echo data > "$rt/lkvm/file.sock" && mkfifo "$rt/lkvm/fifo.sock" && echo data > "$rt/elsewhere/x.sock"
XDG_RUNTIME_DIR=$rt case_ list-keeps-non-sockets 0 '' list
if [ -f "$rt/lkvm/file.sock" ] && [ -p "$rt/lkvm/fifo.sock" ]; then ok list-kept-file-and-fifo; else ko list-kept-file-and-fifo "lkvm list removed them"; fi
rm -rf "$rt/lkvm" && ln -s "$rt/elsewhere" "$rt/lkvm"
XDG_RUNTIME_DIR=$rt case_ list-refuses-symlinked-dir 1 'is a symlink' list
[ -f "$rt/elsewhere/x.sock" ] && ok list-symlink-target-untouched || ko list-symlink-target-untouched "removed"
rm -f "$rt/lkvm" && mkdir -m 777 "$rt/lkvm" && chmod 777 "$rt/lkvm"
XDG_RUNTIME_DIR=$rt case_ list-refuses-open-dir 1 'writable by others' list
# a FIFO as the kernel blocks start-up in open(): SIGTERM still ends it,
# 143 (on arm64 only: elsewhere lkvm stops at "no backend" before any file)
if [ "$(uname -m)" = aarch64 ]; then
	mkfifo "$tmp/kfifo"
	"$bin" run -k "$tmp/kfifo" > "$tmp/out" 2> "$tmp/err" < /dev/null &
	pid=$!
	sleep 1
	kill -TERM "$pid"
	for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		ko startup-sigterm "lkvm ignored SIGTERM while opening a FIFO"
	else
		wait "$pid"
		rc=$?
		if [ "$rc" = 143 ] && grep -q 'interrupted by SIGTERM during start-up' "$tmp/err" &&
			! grep -Eq 'Sanitizer|runtime error' "$tmp/err"; then
			ok startup-sigterm
		else
			ko startup-sigterm "exit $rc: $(head -c 300 "$tmp/err")"
		fi
	fi
fi
if [ "$(uname -m)" != aarch64 ]; then
	# no backend here: lkvm refuses before reading any file and frees all it made
	case_ no-backend-teardown 1 'backend' run -k "$tmp/Image" -m 64 -d "$tmp/text" --9p "$tmp,share" --rng -n mode=none
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

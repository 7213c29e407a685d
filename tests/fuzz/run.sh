#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The fuzz tier: tests/fuzz/run.sh [SECONDS_PER_TARGET] (default 60).
#
# Builds the libFuzzer targets (clang, ASan+UBSan; tests/fuzz/Makefile),
# replays tests/fuzz/regress/<target>/ (inputs that once crashed) and the
# seed corpora, then fuzzes each target for the time given, one after the
# other, with its corpus in build/fuzz/corpus/<target> (seeded from
# tests/fuzz/corpus/<target>). A crash, leak, timeout or trapped invariant
# fails the target; its input is kept in build/fuzz/crashes/. Prints per
# target "PASS fuzz-<t> execs=N cov=N ft=N" or "FAIL fuzz-<t> <why> <input>",
# then "N passed, N failed"; exits non-zero on any failure.
#
# Without clang and libFuzzer (and no apt-get as root to install them) it
# prints "SKIP fuzz tier: <reason>" and exits 1, or 0 with ALLOW_SKIP=1.
#
# Env: FUZZ_TARGETS="virtqueue mmio ..." (default: all), FUZZ_JOBS (make -j).

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

secs=${1:-60}
case $secs in
'' | *[!0-9]*)
	echo "usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]" >&2
	exit 2
	;;
esac
targets=${FUZZ_TARGETS:-"virtqueue mmio p9 qcow2 loader control options"}
out=build/fuzz
crashes=$out/crashes
logs=$out/logs

skip() {
	echo "SKIP fuzz tier: $*"
	echo "0 passed, 0 failed"
	[ "${ALLOW_SKIP:-0}" = 1 ] && exit 0
	exit 1
}

# clang's libFuzzer runtime comes with libclang-rt-14-dev
have_libfuzzer() {
	command -v clang >/dev/null 2>&1 || return 1
	echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
		clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1
}

if ! have_libfuzzer; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "fuzz: installing clang and libclang-rt-14-dev"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			clang libclang-rt-14-dev >"${TMPDIR:-/tmp}/lkvm-fuzz-apt.log" 2>&1
	fi
	have_libfuzzer || skip "clang with libFuzzer (clang, libclang-rt-14-dev) is not installed"
fi

mkdir -p "$crashes" "$logs"
# the targets' scratch directories, also those of runs that crashed (no atexit)
scratch=$(mktemp -d "$([ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/lkvm-fuzz-run.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
export TMPDIR="$scratch"
# shellcheck disable=SC2046 # one word per target
if ! make -s -j"${FUZZ_JOBS:-2}" -f tests/fuzz/Makefile \
	$(for t in $targets; do echo "$out/fuzz-$t"; done) >"$logs/build.log" 2>&1; then
	cat "$logs/build.log"
	echo "FAIL fuzz build (log: $logs/build.log)"
	echo "0 passed, 1 failed"
	exit 1
fi

passed=0
failed=0

# The input of a failure: the one libFuzzer saved, else the file it was running.
artifact() {
	a=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$1" | tail -n 1)
	[ -n "$a" ] || a=$(sed -n 's/^Running: //p' "$1" | tail -n 1)
	echo "$a"
}

# What ended a run badly: the sanitizer's or libFuzzer's summary, else $2.
reason() {
	r=$(grep -m1 -E '^SUMMARY: |ERROR: libFuzzer: |libFuzzer: run interrupted' "$1" |
		sed 's/^SUMMARY: //; s/^==[0-9]*== *//')
	echo "${r:-$2}"
}

fail() {
	echo "FAIL fuzz-$1 $2"
	failed=$((failed + 1))
}

for t in $targets; do
	bin=$out/fuzz-$t
	seeds=tests/fuzz/corpus/$t
	regress=tests/fuzz/regress/$t
	corpus=$out/corpus/$t
	log=$logs/$t.log
	mkdir -p "$corpus"
	opts="-rss_limit_mb=2048 -timeout=10 -artifact_prefix=$crashes/$t-"

	# 1. every input that once crashed, then every seed, once each
	# file names have no blanks; $opts is several words
	set --
	# shellcheck disable=SC2046
	[ -d "$regress" ] && set -- "$@" $(find "$regress" -type f | sort)
	# shellcheck disable=SC2046
	[ -d "$seeds" ] && set -- "$@" $(find "$seeds" -type f | sort)
	rc=0
	# shellcheck disable=SC2086
	[ $# -gt 0 ] && { "$bin" $opts "$@" >"$log.replay" 2>&1 || rc=$?; }
	if [ "$rc" != 0 ]; then
		fail "$t" "replay: $(reason "$log.replay" "exit status $rc") input=$(artifact "$log.replay") (log: $log.replay)"
		continue
	fi

	# 2. fuzz, from the saved corpus and the seeds
	# shellcheck disable=SC2046,SC2086
	nice -n "${FUZZ_NICE:-10}" "$bin" $opts -max_total_time="$secs" -print_final_stats=1 \
		"$corpus" $([ -d "$seeds" ] && echo "$seeds") >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	stats=$(grep -E '^#[0-9]+[[:space:]]' "$log" | grep 'cov:' | tail -n 1)
	cov=$(echo "$stats" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$stats" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	if [ "$rc" != 0 ]; then
		fail "$t" "$(reason "$log" "exit status $rc") input=$(artifact "$log") execs=${execs:-?} (log: $log)"
	elif [ -z "$execs" ] || [ "$execs" = 0 ]; then
		fail "$t" "ran no inputs (log: $log)"
	else
		echo "PASS fuzz-$t execs=$execs cov=${cov:-?} ft=${ft:-?} time=${secs}s"
		passed=$((passed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Deep fuzzing, by hand (not CI): tests/fuzz/deep.sh [EXECS] [TARGET...]
#
# Runs each target (default: all) until it has executed at least EXECS
# inputs (default 10000000), one target after the other, in libFuzzer's fork
# mode: FUZZ_JOBS fuzzing processes at a time (default 1; the CI machine has
# 2 cores), and a crash, leak, timeout or OOM is saved and counted, then the
# fuzzing goes on. Each target's corpus is build/fuzz/corpus/<target> (shared
# with run.sh, seeded from tests/fuzz/corpus/<target>); failing inputs go to
# build/fuzz/crashes/deep/<target>/, the log to build/fuzz/logs/deep-<target>.log.
# At 1000 to 10000 inputs a second a target takes hours: see README.md.
#
# Prints per target "<target> execs=N cov=N ft=N time=S crashes=N" (crashes:
# inputs saved in this run; one bug is often saved many times), then one JSON
# line with all of them. Exits 1 if any target saved a failing input.
#
# Env: FUZZ_JOBS (fuzzing processes, default 1), FUZZ_NICE (default 10),
# FUZZ_TIMEOUT (seconds per input, default 10), FUZZ_RSS_MB (default 2048).

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

usage() {
	echo "usage: tests/fuzz/deep.sh [EXECS] [TARGET...]" >&2
	exit 2
}

execs=10000000
case ${1:-} in
'') ;;
*[!0-9]*) ;;
*)
	execs=$1
	shift
	;;
esac
[ "$execs" -gt 0 ] 2>/dev/null || usage
all="virtqueue mmio p9 qcow2 loader control options"
targets=${*:-$all}
for t in $targets; do
	case " $all " in
	*" $t "*) ;;
	*)
		echo "deep: no target '$t' (targets: $all)" >&2
		usage
		;;
	esac
done
jobs=${FUZZ_JOBS:-1}
out=build/fuzz
logs=$out/logs

command -v clang >/dev/null 2>&1 || {
	echo "deep: no clang; tests/fuzz/run.sh installs it (clang, libclang-rt-14-dev)" >&2
	exit 1
}
mkdir -p "$logs"
tmp=$([ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")
scratch=$(mktemp -d "$tmp/lkvm-fuzz-deep.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export TMPDIR="$scratch"
# shellcheck disable=SC2046 # one word per target
if ! make -s -j2 -f tests/fuzz/Makefile $(for t in $targets; do echo "$out/fuzz-$t"; done) \
	>"$logs/deep-build.log" 2>&1; then
	cat "$logs/deep-build.log"
	echo "deep: the build failed (log: $logs/deep-build.log)" >&2
	exit 1
fi

# files in a directory
count() {
	find "$1" -type f 2>/dev/null | wc -l
}

json=""
bad=0
for t in $targets; do
	corpus=$out/corpus/$t
	crashes=$out/crashes/deep/$t
	log=$logs/deep-$t.log
	mkdir -p "$corpus" "$crashes"
	before=$(count "$crashes")
	start=$(date +%s)
	# fork mode: the first directory is where new inputs go, the others are read
	# shellcheck disable=SC2046
	nice -n "${FUZZ_NICE:-10}" "$out/fuzz-$t" -fork="$jobs" -runs="$execs" \
		-ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
		-timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
		-artifact_prefix="$crashes/" -print_final_stats=1 \
		"$corpus" $([ -d "tests/fuzz/corpus/$t" ] && echo "tests/fuzz/corpus/$t") >"$log" 2>&1
	rc=$?
	time=$(($(date +%s) - start))
	# the parent's last "#N: cov: C ft: F corp: ..." line
	last=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -n 1)
	n=$(echo "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	saved=$(($(count "$crashes") - before))
	echo "$t execs=${n:-0} cov=${cov:-0} ft=${ft:-0} time=$time crashes=$saved"
	if [ "$saved" -gt 0 ] || { [ "$rc" != 0 ] && [ "$rc" != 77 ]; }; then
		bad=1
		echo "  (inputs: $crashes/, log: $log, exit status $rc)"
	fi
	one="{\"target\":\"$t\",\"execs\":${n:-0},\"cov\":${cov:-0},\"ft\":${ft:-0},"
	one="$one\"time_s\":$time,\"crashes\":$saved,\"exit\":$rc}"
	json="$json${json:+,}$one"
done
echo "{\"execs_goal\":$execs,\"jobs\":$jobs,\"targets\":[$json]}"
exit "$bad"

#!/bin/bash
# tests/bench/run.sh [SUITE...] — benchmarks in the emulated arm64 KVM host.
#
# SUITE is a jobs file in this folder without .jobs (default: all of them):
#   boot  lkvm run -> the guest init's first line; lkvm's RSS beyond guest RAM
#   blk   virtio-blk: O_DIRECT sequential 1 MiB and random 4 KiB read/write of
#         a 256 MiB raw disk; MMIO exits, irqs and vCPU exits per request
#   9p    virtio-9p: a 64 MiB file written and read, 1000 files made and removed
#         (arm64 guests; 9p-arm32: the same for the AArch32 guests)
#   disk  raw vs qcow2 (LE guest)
#   net   TCP throughput guest <-> host, user mode (libslirp) and tap
# Guests print "BENCH-<METRIC> bytes|files=N sec=S nsec=NS" (rates: MB/s,
# files/s) and the jobs "BENCH-<METRIC> value=V unit=U" (other figures:
# tests/bench/bench-lib.sh). Each job boots its guest several times; this
# reports per job and metric the median, and the BE/LE ratio of each job
# whose name has "-be" to the one with "-le" instead, as a table and as
# JSON: build/bench/<suite>.json, and build/bench/all.json for every suite
# of this run (schema: tests/bench/report.awk).
#
# A benchmark, not a test: it fails only if a job did not run (or lacked a
# result), never on slow numbers. The numbers include TCG: compare them
# with each other, not with hardware. Last line: "N passed, N failed" (jobs).
#
# Env: BENCH_ROUNDS=N       boots per job (default: each jobs file's own; CI: 1)
#      BENCH_QUICK=1        blk and net move a quarter of the data (CI)
#      BENCH_REPORT_ONLY=1  report the last run again
#      BENCH_LKVM_OPTS="..." options for every "lkvm run" (e.g. --no-ioeventfd
#                           --no-irqfd: the slow paths, for comparison)
# tests/bench/instr.sh counts instructions per request (no emulated host);
# tests/bench/results.sh renders the JSON as markdown (bench/RESULTS.md).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
suites=${*:-$(cd "$here" && ls -1 -- *.jobs | sed 's/\.jobs$//')}
rc=0

if [ -n "${BENCH_ROUNDS:-}" ]; then
	case $BENCH_ROUNDS in
	'' | *[!0-9]* | 0*) echo "bench: BENCH_ROUNDS must be a number >= 1" >&2; exit 2 ;;
	esac
	# the jobs read it in the emulated host (bench_rounds in bench-lib.sh)
	export BENCH_ROUNDS
	export ARM_TIER_ENV="${ARM_TIER_ENV:-} BENCH_ROUNDS"
fi
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	# blk and net move a quarter of their data (bench_mib in bench-lib.sh)
	export BENCH_QUICK
	export ARM_TIER_ENV="${ARM_TIER_ENV:-} BENCH_QUICK"
fi
if [ -n "${BENCH_LKVM_OPTS:-}" ]; then
	# words after "lkvm run" in every job (bench_run in bench-lib.sh)
	export BENCH_LKVM_OPTS
	export ARM_TIER_ENV="${ARM_TIER_ENV:-} BENCH_LKVM_OPTS"
fi
for suite in $suites; do
	[ -f "$here/$suite.jobs" ] || { echo "bench: no suite $suite ($here/$suite.jobs)" >&2; exit 2; }
done
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
# the jobs are this tree's; lkvm may not be
[ -n "${LKVM_BIN:-}" ] && commit="$commit+LKVM_BIN"
[ "${BENCH_QUICK:-0}" = 1 ] && commit="$commit+quick"
[ -n "${BENCH_LKVM_OPTS:-}" ] && commit="$commit+opts:$(echo "$BENCH_LKVM_OPTS" | tr -s ' ' ',')"
mkdir -p "$top/build/bench"
: > "$top/build/bench/all.tsv"
t_all=$(date +%s)

for suite in $suites; do
	out=$top/build/bench/$suite
	mkdir -p "$out"
	if [ "${BENCH_REPORT_ONLY:-0}" != 1 ]; then
		t0=$(date +%s)
		ARM_TIER_OUT=$out/arm-tier "$top/tests/arm/run.sh" "$here/$suite.jobs" | tee "$out/arm-tier.txt"
		[ "${PIPESTATUS[0]}" = 0 ] || rc=1
		echo "bench: $suite took $(( $(date +%s) - t0 )) s" >&2
		echo "$date $commit ${BENCH_ROUNDS:-default}" > "$out/run-info"
	fi
	s_date=$date s_commit=$commit s_rounds=${BENCH_ROUNDS:-default}
	[ -f "$out/run-info" ] && read -r s_date s_commit s_rounds < "$out/run-info"
	echo "=== bench $suite"
	# medians per job and metric: suite job metric rounds value unit (TSV)
	awk -v dir="$out/arm-tier" -v suite="$suite" '
		function field(line, key,   n, i, f) {
			n = split(line, f, " ")
			for (i = 2; i <= n; i++)
				if (index(f[i], key "=") == 1)
					return substr(f[i], length(key) + 2)
			return ""
		}
		function median(a, n,   i, j, x) {
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		BEGIN {
			cmd = "ls -1 " dir
			while ((cmd | getline job) > 0) {
				f = dir "/" job "/output.log"
				if (job !~ /^bench-/ || (getline line < f) <= 0) continue
				do {
					sub(/\r$/, "", line)
					if (line ~ /^BENCH-[A-Z0-9-]+ (bytes|files)=[0-9]+ sec=[0-9]+ nsec=[0-9]+/) {
						v = field(line, "bytes"); unit = "MB/s"
						if (v == "") { v = field(line, "files"); unit = "files/s" }
						t = field(line, "sec") + field(line, "nsec") / 1e9
						if (t <= 0) continue
						r = unit == "MB/s" ? v / t / 1e6 : v / t
					} else if (line ~ /^BENCH-[A-Z0-9-]+ value=-?[0-9.]+ unit=[^ ]+/) {
						r = field(line, "value") + 0; unit = field(line, "unit")
					} else continue
					m = line; sub(/ .*/, "", m); sub(/^BENCH-/, "", m)
					k = job SUBSEP m
					if (!(k in cnt)) { keys[++nk] = k; units[k] = unit }
					vals[k, ++cnt[k]] = r
				} while ((getline line < f) > 0)
				close(f)
			}
			for (i = 1; i <= nk; i++) {
				k = keys[i]
				delete a
				for (j = 1; j <= cnt[k]; j++) a[j] = vals[k, j]
				split(k, p, SUBSEP)
				printf "%s\t%s\t%s\t%d\t%.6g\t%s\n", suite, substr(p[1], 7), p[2], cnt[k], median(a, cnt[k]), units[k]
			}
		}' > "$out/medians.tsv"
	cat "$out/medians.tsv" >> "$top/build/bench/all.tsv"
	awk -f "$here/report.awk" -v name="$suite" -v statistic=median -v date="$s_date" \
		-v commit="$s_commit" -v rounds="$s_rounds" "$out/medians.tsv" | tee "$out/report.txt"
	tail -n 1 "$out/report.txt" > "$top/build/bench/$suite.json"
	echo "bench: $suite JSON in build/bench/$suite.json" >&2
done

echo "=== bench: all suites of this run"
awk -f "$here/report.awk" -v name=all -v statistic=median -v date="$date" -v commit="$commit" \
	-v rounds="${BENCH_ROUNDS:-default}" "$top/build/bench/all.tsv" | tee "$top/build/bench/all.txt" |
	sed '$d'
tail -n 1 "$top/build/bench/all.txt" > "$top/build/bench/all.json"
echo "bench: combined JSON in build/bench/all.json; $(( $(date +%s) - t_all )) s in all" >&2

# the jobs that ran and checked out, over every suite of this run
pass=0 fail=0
for suite in $suites; do
	f=$top/build/bench/$suite/arm-tier.txt
	[ -f "$f" ] || { fail=$((fail + 1)); continue; }
	pass=$((pass + $(grep -c '^PASS ' "$f")))
	fail=$((fail + $(grep -cE '^(FAIL|SKIP) ' "$f")))
done
[ $fail = 0 ] || rc=1
echo "$pass passed, $fail failed"
exit $rc

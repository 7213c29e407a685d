#!/bin/bash
# tests/bench/run.sh [SUITE...] — benchmarks in the emulated arm64 KVM host.
#
# SUITE is a jobs file in this folder without .jobs (default: all of them):
#   blk  virtio-blk: guest sequential O_DIRECT read/write of a 256 MiB raw disk
#   9p   virtio-9p: a 64 MiB file written and read, 1000 files made and removed
# Guests print "BENCH-<METRIC> bytes|files=N sec=S nsec=NS"; each job boots its
# guest several times and this reports the median rate per job and metric
# (MB/s for bytes, files/s for files), the BE/LE ratio of each pair of jobs
# that differ only in byte order, and JSON (build/bench/<suite>.json).
# A benchmark, not a test: it fails only if a job did not run. The numbers
# include TCG: compare them with each other, not with hardware.
# BENCH_REPORT_ONLY=1 reports the last run again.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
suites=${*:-$(cd "$here" && ls -1 *.jobs | sed 's/\.jobs$//')}
rc=0

for suite in $suites; do
	[ -f "$here/$suite.jobs" ] || { echo "bench: no suite $suite ($here/$suite.jobs)" >&2; exit 2; }
	out=$top/build/bench/$suite
	mkdir -p "$out"
	if [ "${BENCH_REPORT_ONLY:-0}" != 1 ]; then
		ARM_TIER_OUT=$out/arm-tier "$top/tests/arm/run.sh" "$here/$suite.jobs" | tee "$out/arm-tier.txt"
		[ "${PIPESTATUS[0]}" = 0 ] || rc=1
	fi
	echo "=== bench $suite"
	awk -v dir="$out/arm-tier" -v suite="$suite" '
		function rate(line, unit,   n, i, f, v, sec, nsec, t) {
			n = split(line, f, " ")
			for (i = 1; i <= n; i++) {
				if (f[i] ~ /^(bytes|files)=/) { v = f[i]; sub(/^[a-z]+=/, "", v) }
				if (f[i] ~ /^sec=/) sec = substr(f[i], 5)
				if (f[i] ~ /^nsec=/) nsec = substr(f[i], 6)
			}
			t = sec + nsec / 1e9
			if (t <= 0 || v < 0) return -1
			return unit == "MB/s" ? v / t / 1e6 : v / t
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
				delete cnt
				do {
					if (line !~ /^BENCH-[A-Z0-9-]+ (bytes|files)=-?[0-9]+ sec=/) continue
					m = line; sub(/ .*/, "", m); sub(/^BENCH-/, "", m)
					unit = line ~ / bytes=/ ? "MB/s" : "files/s"
					r = rate(line, unit)
					if (r < 0) continue
					k = job SUBSEP m
					if (!(k in cnt)) { keys[++nk] = k; units[k] = unit }
					vals[k, ++cnt[k]] = r
					rounds[k] = cnt[k]
				} while ((getline line < f) > 0)
				close(f)
			}
			for (i = 1; i <= nk; i++) {
				k = keys[i]
				delete a
				for (j = 1; j <= rounds[k]; j++) a[j] = vals[k, j]
				med[k] = median(a, rounds[k])
			}
			printf "%-24s %-12s %6s %10s %s\n", "job", "metric", "rounds", "median", "unit"
			for (i = 1; i <= nk; i++) {
				split(keys[i], p, SUBSEP)
				printf "%-24s %-12s %6d %10.1f %s\n", substr(p[1], 7), p[2], rounds[keys[i]], med[keys[i]], units[keys[i]]
			}
			for (i = 1; i <= nk; i++) {
				split(keys[i], p, SUBSEP)
				if (p[1] !~ /-be(-|$)/) continue
				le = p[1]; sub(/-be(-|$)/, "-le&", le); sub(/-le-be/, "-le", le)
				if (!((le SUBSEP p[2]) in med) || !med[le SUBSEP p[2]]) continue
				printf "BE/LE %-24s %-12s %.2f\n", substr(p[1], 7), p[2], med[keys[i]] / med[le SUBSEP p[2]]
			}
			printf "{\"suite\": \"%s\", \"statistic\": \"median\", \"results\": [", suite
			for (i = 1; i <= nk; i++) {
				split(keys[i], p, SUBSEP)
				printf "%s{\"job\": \"%s\", \"metric\": \"%s\", \"rounds\": %d, \"value\": %.1f, \"unit\": \"%s\"}", (i > 1 ? ", " : ""), substr(p[1], 7), p[2], rounds[keys[i]], med[keys[i]], units[keys[i]]
			}
			printf "]}\n"
		}' | tee "$out/report.txt"
	tail -n 1 "$out/report.txt" > "$top/build/bench/$suite.json"
	echo "bench: $suite JSON in build/bench/$suite.json" >&2
done
exit $rc

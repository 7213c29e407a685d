#!/bin/bash
# tests/bench/blk.sh — virtio-blk sequential throughput, per guest byte order.
#
# Runs tests/bench/blk.jobs in the emulated arm64 KVM host (tests/arm/run.sh):
# each guest reads and then writes all of a 256 MiB raw disk with O_DIRECT,
# 1 MiB at a time, and times it with CLOCK_MONOTONIC. Prints a table and
# JSON (also in build/bench/blk.json), and the BE/LE ratio per transport.
# This is a benchmark, not a test: it fails only if a job did not run.
# BENCH_REPORT_ONLY=1 reports the last run again.
# The numbers include TCG: compare them with each other, not with hardware.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/bench
export ARM_TIER_OUT=$out/arm-tier
mkdir -p "$out"

# BENCH_REPORT_ONLY=1: report the last run again without running it
if [ "${BENCH_REPORT_ONLY:-0}" = 1 ]; then
	rc=0
else
	"$top/tests/arm/run.sh" "$top/tests/bench/blk.jobs" | tee "$out/arm-tier.txt"
	rc=${PIPESTATUS[0]}
fi

# job -> median MB/s over its rounds, from "BENCH-READ bytes=N sec=S nsec=NS"
awk -v dir="$ARM_TIER_OUT" '
	function mbs(line,   n, i, f, bytes, sec, nsec, t) {
		n = split(line, f, " ")
		for (i = 1; i <= n; i++) {
			if (f[i] ~ /^bytes=/) bytes = substr(f[i], 7)
			if (f[i] ~ /^sec=/) sec = substr(f[i], 5)
			if (f[i] ~ /^nsec=/) nsec = substr(f[i], 6)
		}
		t = sec + nsec / 1e9
		return t > 0 ? bytes / t / 1e6 : 0
	}
	function median(a, n,   i, j, x) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	BEGIN {
		cmd = "ls -1 " dir
		while ((cmd | getline job) > 0) {
			if (job !~ /^bench-/) continue
			f = dir "/" job "/output.log"
			nr = nw = 0
			delete r; delete w
			while ((getline line < f) > 0) {
				if (line ~ /^BENCH-READ bytes=/) r[++nr] = mbs(line)
				if (line ~ /^BENCH-WRITE bytes=/) w[++nw] = mbs(line)
			}
			close(f)
			if (!nr || !nw) continue
			name = substr(job, 7)
			jobs[++n] = name; rounds[name] = nr
			rd[name] = median(r, nr); wr[name] = median(w, nw)
		}
		printf "%-18s %7s %10s %10s\n", "guest-transport", "rounds", "read MB/s", "write MB/s"
		for (i = 1; i <= n; i++)
			printf "%-18s %7d %10.1f %10.1f\n", jobs[i], rounds[jobs[i]], rd[jobs[i]], wr[jobs[i]]
		# BE relative to LE for the same arch and transport
		for (i = 1; i <= n; i++) {
			be = jobs[i]
			if (be !~ /-be-/) continue
			le = be; sub(/-be-/, "-le-", le)
			if (!(le in rd)) continue
			pair = be; sub(/-be-/, "-", pair)
			printf "BE/LE %-14s read %.2f write %.2f\n", pair, rd[be] / rd[le], wr[be] / wr[le]
		}
		printf "{\"benchmark\": \"virtio-blk-seq\", \"disk_mib\": 256, \"request_kib\": 1024, \"statistic\": \"median\", \"results\": ["
		for (i = 1; i <= n; i++)
			printf "%s{\"guest\": \"%s\", \"rounds\": %d, \"read_mbs\": %.1f, \"write_mbs\": %.1f}", (i > 1 ? ", " : ""), jobs[i], rounds[jobs[i]], rd[jobs[i]], wr[jobs[i]]
		printf "]}\n"
	}' | tee "$out/blk.txt"
tail -n 1 "$out/blk.txt" > "$out/blk.json"
echo "bench: JSON in ${out#"$top"/}/blk.json" >&2
exit "$rc"

#!/bin/bash
# tests/bench/instr.sh — instructions lkvm spends per virtio-blk request.
#
# Builds tests/bench/vq_instr.c against lkvm's own objects (make bench-instr)
# and runs it under callgrind for each ring order / transport (legacy-be,
# legacy-le: virtio-mmio version 1; modern: version 2, LE rings) and op
# (4 KiB read, 4 KiB write), at N1 and N2 requests, counting only
# vqi_device_side() (kick exit -> device thread's work -> interrupt status
# and ack exits). Instructions per request = (Ir(N2) - Ir(N1)) / (N2 - N1),
# so fixed costs cancel; the same machine-independent count on any x86_64.
# Also: the part in the virtqueue core (exclusive cost of code in
# virtio/virtqueue.c and include/virtqueue.h) and in libc/other libraries.
#
# Prints a table with the BE/LE ratios (legacy-be / legacy-le) and writes
# build/bench/instr.json (the schema of tests/bench/run.sh: report.awk) and ends with "N passed, N failed": a pass
# is a harness run whose every request checked out. Without valgrind:
# "SKIP instr: ..." and exit 1 (0 with ALLOW_SKIP=1).
#
# Env: INSTR_N1 (default 1000), INSTR_N2 (default 2000), INSTR_CONFIGS,
#      INSTR_OPS, VALGRIND (default valgrind).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/bench/instr
n1=${INSTR_N1:-1000}
n2=${INSTR_N2:-2000}
configs=${INSTR_CONFIGS:-legacy-be legacy-le modern}
ops=${INSTR_OPS:-read write}
vg=${VALGRIND:-valgrind}

skip() {
	echo "SKIP instr: $*"
	[ "${ALLOW_SKIP:-0}" = 1 ] && exit 0
	exit 1
}
case $n1$n2 in *[!0-9]*) echo "instr: INSTR_N1/N2 must be numbers" >&2; exit 2 ;; esac
if [ "$n2" -le "$n1" ] || [ "$n1" -le 0 ]; then
	echo "instr: need 0 < INSTR_N1 < INSTR_N2" >&2
	exit 2
fi
command -v "$vg" >/dev/null || skip "valgrind not found (apt-get install valgrind)"
command -v callgrind_annotate >/dev/null || skip "callgrind_annotate not found (apt-get install valgrind)"

rm -rf "$out"
mkdir -p "$out"
# the native build's objects (the Makefile's default OBJ)
bin=$top/build/$(gcc -dumpmachine)/tests/bench/vq-instr
if ! nice -n 10 make -s -C "$top" -j"$(nproc)" bench-instr > "$out/build.log" 2>&1 || [ ! -x "$bin" ]; then
	tail -n 20 "$out/build.log" | sed 's/^/    /'
	echo "FAIL instr-build: make bench-instr failed (log: ${out#"$top"/}/build.log)"
	echo "0 passed, 1 failed"
	exit 1
fi

# ir FILE: collected Ir, then the virtqueue part, then the part outside the repo
ir() {
	local total
	total=$(sed -n 's/^totals: *//p' "$1" | head -n 1)
	callgrind_annotate --threshold=100 --inclusive=no --auto=no "$1" 2>/dev/null |
		awk -v total="${total:-0}" '
			# "   162,000 ( 7.77%)  file.c:function [object]" (no object: inlined)
			/^ *[0-9][0-9,]* +\([ 0-9.]+%\) +[^ ]+:/ {
				v = $1; gsub(/,/, "", v)
				rest = $0; sub(/^[^)]*\) +/, "", rest)
				split(rest, w, " "); fn = w[1]
				if (fn ~ /(^|\/)(virtio\/virtqueue\.c|include\/virtqueue\.h):/) vq += v
				if (rest ~ /\[.*\]$/ && rest !~ /\/vq-instr\]$/) other += v
			}
			END { printf "%d %d %d\n", total, vq, other }'
}

pass=0 fail=0
results=$out/results.txt
: > "$results"
for c in $configs; do
	for op in $ops; do
		ok=1
		tot=() vq=() lib=()  # Ir at N: all collected, virtqueue code, libraries
		for n in $n1 $n2; do
			f=$out/callgrind.$c.$op.$n
			if ! nice -n 10 "$vg" --tool=callgrind --collect-atstart=no \
					--toggle-collect=vqi_device_side --callgrind-out-file="$f" \
					"$bin" "$c" "$op" "$n" > "$f.log" 2>&1 ||
					! grep -q "^vq-instr: $c $op: $n requests ok" "$f.log"; then
				echo "FAIL instr-$c-$op: harness failed at N=$n (log: ${f#"$top"/}.log)"
				grep -v '^==' "$f.log" | tail -n 5 | sed 's/^/    /'
				ok=0
				break
			fi
			read -r "tot[$n]" "vq[$n]" "lib[$n]" < <(ir "$f")
		done
		if [ $ok = 1 ] && [ "${tot[$n2]:-0}" -gt 0 ]; then
			echo "PASS instr-$c-$op"
			pass=$((pass + 1))
			awk -v c="$c" -v op="$op" -v d=$((n2 - n1)) \
				-v t1="${tot[$n1]}" -v t2="${tot[$n2]}" -v v1="${vq[$n1]}" -v v2="${vq[$n2]}" \
				-v o1="${lib[$n1]}" -v o2="${lib[$n2]}" \
				'BEGIN { printf "%s %s %.1f %.1f %.1f\n", c, op, (t2 - t1) / d, (v2 - v1) / d, (o2 - o1) / d }' >> "$results"
		elif [ $ok = 1 ]; then
			echo "FAIL instr-$c-$op: callgrind collected nothing (is vqi_device_side inlined?)"
			fail=$((fail + 1))
		else
			fail=$((fail + 1))
		fi
	done
done

echo "=== bench instr: instructions per virtio-blk request, (Ir($n2) - Ir($n1)) / $((n2 - n1))"
# the table and JSON of tests/bench/run.sh (report.awk): metric OP-INSTR is
# everything counted, OP-VQ-INSTR the virtqueue part, OP-LIB-INSTR libc & co.
awk '{
	op = toupper($2)
	printf "instr\t%s\t%s-INSTR\t1\t%s\tinstr/req\n", $1, op, $3
	printf "instr\t%s\t%s-VQ-INSTR\t1\t%s\tinstr/req\n", $1, op, $4
	printf "instr\t%s\t%s-LIB-INSTR\t1\t%s\tinstr/req\n", $1, op, $5
}' "$results" > "$out/medians.tsv"
awk -f "$here/report.awk" -v name=instr -v statistic="(Ir($n2)-Ir($n1))/$((n2 - n1))" \
	-v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	-v commit="$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)" \
	-v rounds=1 "$out/medians.tsv" | tee "$out/report.txt"
tail -n 1 "$out/report.txt" > "$top/build/bench/instr.json"
echo "instr: JSON in build/bench/instr.json, callgrind files in ${out#"$top"/}" >&2
echo "$pass passed, $fail failed"
[ $fail = 0 ]

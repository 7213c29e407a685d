#!/bin/bash
# tests/soak/run.sh [MINUTES] — the soak tier: lkvm under a long mixed load.
#
# One emulated arm64 KVM host (tests/arm) runs tests/soak/soak.jobs: four
# lkvm guests at once (arm64 BE and LE x mmio and mmio-legacy; two with
# lkvm-dyn and user-mode networking, two with the static lkvm and a tap),
# each doing the guest init's SOAK= workload for MINUTES minutes (default
# 20): raw and qcow2 virtio-blk writes, flushes, punches and verified reads,
# 9p files written, renamed, read back and listed, HTTP downloads and TCP
# uploads, all checksummed, then a final verification of all it wrote. The
# host samples every lkvm every 10 s. Checked here, per guest:
#   exit     lkvm exited 0 (the guest powered off)
#   stderr   lkvm printed nothing on stderr (no "lkvm:" lines)
#   data     no SOAK-FAIL line, every round ok, SOAK-VERIFY all ok,
#            SOAK-DONE verdict=PASS after >= MINUTES minutes
#   samples  they cover the whole soak (4 or more after the warm-up)
# and, over the samples from WARMUP_S (300 s; half the soak for soaks under
# 10 minutes, which are for trying the tier out) on, split into quarters:
#   rss      lkvm's own resident memory (every mapping but guest RAM, from
#            smaps; VmRSS also holds the guest pages it touched; the host
#            runs without transparent huge pages, so it moves in 4 KiB
#            pages): the median of the last quarter is at most
#            RSS_SLACK_KIB (1024) above the median of the first. A leak
#            moves the whole level; the medians ignore the short peaks of
#            lkvm-dyn's heap (glib, libslirp: 1-1.4 MiB above its level
#            for a sample or two, then trimmed), which also takes 5-10
#            minutes to settle (measured: 8.4-9.2 MiB at the start,
#            12-13 MiB from then on). 1 MiB over the 15 minutes compared is
#            about 1.4 KiB a round (some 700 rounds a guest)
#   fds      lkvm has exactly as many fds open at the two quiet points
#            (the guests idle SOAK_IDLE s after their first round, with
#            everything used once, and after their final verification; the
#            host's sample at the end of each idle is the quiet point) and,
#            busy, never more than FD_RANGE (16) over that count
#   threads  the same thread count at both quiet points and in every
#            sample after the warm-up
#   qcow2    vdb's file never exceeds its virtual size (16 MiB) + 4 MiB
#            (metadata, lkvm's pool of 32 reserved clusters): the workload
#            keeps about half the disk punched, and freed clusters must be
#            reused (a leak grows the file by 256 KiB a round)
# Prints per guest the min, start, end and max of each sampled figure, one
# PASS/FAIL line per guest and check, then "N passed, N failed". "SKIP soak
# tier: <reason>" if the emulated host cannot run (exit 1, 0 with
# ALLOW_SKIP=1).
#
# Env: LKVM_BIN, LKVM_DYN_BIN (else tests/arm/run.sh builds them),
#      SOAK_OUT (default build/soak), VERBOSE=1, RSS_SLACK_KIB, FD_RANGE,
#      WARMUP_S,
#      SOAK_REPORT_ONLY=1 (judge the last run again, e.g. with other bounds).
# Takes MINUTES + about 5 minutes, and the whole machine (2 cores).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
MINUTES=${1:-20}
case $MINUTES in '' | *[!0-9]* | 0*) echo "usage: $0 [MINUTES >= 1]" >&2; exit 2 ;; esac
OUT=$(realpath -m "${SOAK_OUT:-$top/build/soak}")
RSS_SLACK_KIB=${RSS_SLACK_KIB:-1024}
FD_RANGE=${FD_RANGE:-16}
WARMUP_S=${WARMUP_S:-$((MINUTES >= 10 ? 300 : MINUTES * 30))}
QCOW2_VIRT_KIB=16384
GUESTS="be-mmio-user le-legacy-user be-legacy-tap le-mmio-tap"
say() { echo "soak: $*" >&2; }
skip() {
	echo "SKIP soak tier: $*"
	[ "${ALLOW_SKIP:-0}" = 1 ] && exit 0
	exit 1
}

command -v qemu-system-aarch64 >/dev/null || skip "qemu-system-aarch64 not found (apt-get install qemu-system-arm)"
command -v qemu-img >/dev/null || skip "qemu-img not found (apt-get install qemu-utils)"
mkdir -p "$OUT"
exec 9> "$OUT.lock"
flock -n 9 || { say "another run uses ${OUT#"$top"/}; waiting"; flock 9; }
SOAK_SECONDS=$((MINUTES * 60))
export SOAK_SECONDS
t0=$(date +%s)
if [ "${SOAK_REPORT_ONLY:-0}" = 1 ]; then
	# judge the last run again (its MINUTES are the ones to give)
	[ -f "$OUT/arm-tier.txt" ] || { echo "soak: no earlier run in ${OUT#"$top"/}" >&2; exit 2; }
	arm_rc=0
	grep -q ', 0 failed$' "$OUT/arm-tier.txt" || arm_rc=1
else
	rm -rf "$OUT/arm-tier.txt" "$OUT/logs"
	# the jobs file with this run's limit
	sed "s/^@job soak [0-9]*/@job soak $((SOAK_SECONDS + 600))/" "$here/soak.jobs" > "$OUT/soak.jobs"
	say "$MINUTES minutes, four guests; booting the emulated host (tests/arm/run.sh)"
	ARM_TIER_OUT=$OUT/arm-tier ARM_TIER_ENV="${ARM_TIER_ENV:-} SOAK_SECONDS" ALLOW_SKIP=0 \
		"$top/tests/arm/run.sh" "$OUT/soak.jobs" > "$OUT/arm-tier.txt"
	arm_rc=$?
	if grep -q '^SKIP arm tier' "$OUT/arm-tier.txt"; then
		skip "$(sed -n 's/^SKIP arm tier: //p' "$OUT/arm-tier.txt" | head -n 1)"
	fi
	say "host done in $(($(date +%s) - t0)) s"
fi
mkdir -p "$OUT/logs"
jd=$OUT/arm-tier/soak
log=$jd/output.log

pass=0 fail=0
verdict() { # NAME CHECK REASON... (no reason: PASS)
	local name=$1 check=$2
	shift 2
	if [ $# = 0 ] || [ -z "$*" ]; then
		echo "PASS $name $check"
		pass=$((pass + 1))
	else
		echo "FAIL $name $check: $*"
		fail=$((fail + 1))
	fi
}
if [ $arm_rc != 0 ]; then
	grep -E '^FAIL ' "$OUT/arm-tier.txt" | sed 's/^FAIL soak:/FAIL soak-host-job:/'
	fail=$((fail + 1))
fi
[ -f "$log" ] || { echo "FAIL soak: no job output (${OUT#"$top"/}/arm-tier.txt)"; echo "$pass passed, $((fail + 1)) failed"; exit 1; }

# figures GUEST METRIC: "min start end max last_t n wn wmin wmax fmin fmax
# fmed lmin lmax lmed" over all samples (min start end max, the last
# sample's time, their number), then over the wn samples at or after the
# warm-up (w*), and over the first (f*) and the last (l*) quarter of those
# (at least one sample; med: the median)
figures() {
	awk -v g="$1" -v m="$2" -v warm="$WARMUP_S" '
		function kv(k,   i) { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
		$1 == "SOAK-SAMPLE" && kv("g") == g {
			v = kv(m) + 0; t = kv("t") + 0
			if (!n++) { mn = mx = st = v }
			if (v < mn) mn = v
			if (v > mx) mx = v
			en = v; lt = t
			if (t >= warm) w[++wn] = v
		}
		function range(from, to,   i) {
			lo = hi = w[from]
			for (i = from; i <= to; i++) { if (w[i] < lo) lo = w[i]; if (w[i] > hi) hi = w[i] }
		}
		function median(from, to,   i, j, k, x, a) {
			k = 0
			for (i = from; i <= to; i++) a[++k] = w[i]
			for (i = 2; i <= k; i++)
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
			return a[int((k + 1) / 2)]
		}
		END {
			if (!n) exit
			printf "%d %d %d %d %d %d %d", mn, st, en, mx, lt, n, wn
			if (!wn) { print " - - - - - - - -"; exit }
			q = int(wn / 4); if (q < 1) q = 1
			range(1, wn); printf " %d %d", lo, hi
			range(1, q); printf " %d %d %d", lo, hi, median(1, q)
			range(wn - q + 1, wn); printf " %d %d %d\n", lo, hi, median(wn - q + 1, wn)
		}
	' "$log"
}

# quiet GUEST PHASE: "fds threads vmm" of the last sample in that idle phase
quiet() {
	awk -v g="$1" -v ph="$2" '
		function kv(k,   i) { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
		$1 == "SOAK-SAMPLE" && kv("g") == g && kv("phase") == ph { v = kv("fds") " " kv("threads") " " kv("vmm") }
		END { if (v != "") print v }
	' "$log"
}

printf '%-15s %-8s %9s %9s %9s %9s\n' guest metric min start end max
for g in $GUESTS; do
	for m in rss vmm fds threads qcow2; do
		read -r mn st en mx _ <<< "$(figures $g $m)"
		printf '%-15s %-8s %9s %9s %9s %9s\n' "$g" "$m" "${mn:--}" "${st:--}" "${en:--}" "${mx:--}"
	done
done
echo "(rss: VmRSS KiB, guest RAM included; vmm: lkvm's own resident KiB; qcow2: vdb file KiB; samples every 10 s)"

for g in $GUESTS; do
	out=$OUT/logs/$g.out err=$OUT/logs/$g.err
	# the guest console has \r\n line ends
	gunzip -c "$jd/$g.out.gz" 2>/dev/null | tr -d '\r' > "$out"
	gunzip -c "$jd/$g.err.gz" 2>/dev/null | tr -d '\r' > "$err"

	# exit
	rc=$(sed -n "s/^SOAK-EXIT g=$g rc=\([0-9]*\).*/\1/p" "$log")
	verdict "$g" exit "$([ "$rc" = 0 ] || echo "lkvm exit status ${rc:-unknown}")"

	# stderr
	r=
	[ -f "$jd/$g.err.gz" ] || r="its stderr did not come back"
	[ -z "$r" ] && [ -s "$err" ] && r="lkvm said: $(head -n 3 "$err" | tr '\n' ' ')"
	verdict "$g" stderr "$r"

	# data
	r=
	nfail=$(grep -ac '^SOAK-FAIL' "$out")
	nround=$(grep -ac '^SOAK-ROUND ' "$out")
	nbad=$(grep -a '^SOAK-ROUND ' "$out" | grep -c FAIL)
	done_line=$(grep -a -m1 '^SOAK-DONE' "$out")
	secs=$(sed -n 's/.* seconds=\([0-9]*\).*/\1/p' <<< "$done_line")
	[ -f "$jd/$g.out.gz" ] || r="$r; its console did not come back"
	[ "$nfail" = 0 ] || r="$r; $nfail SOAK-FAIL lines, first: $(grep -a -m1 '^SOAK-FAIL' "$out")"
	[ "$nbad" = 0 ] || r="$r; $nbad of $nround rounds failed"
	grep -aqE '^SOAK-VERIFY vda=ok slots=[1-9][0-9]* vdb=ok slots=[1-9][0-9]* 9p=ok files=[1-9][0-9]*$' "$out" ||
		r="$r; verification: $(grep -a -m1 '^SOAK-VERIFY' "$out" || echo none)"
	[[ $done_line == *verdict=PASS ]] || r="$r; ${done_line:-no SOAK-DONE line}"
	[ "${secs:-0}" -ge "$SOAK_SECONDS" ] || r="$r; ran ${secs:-0} s of $SOAK_SECONDS"
	verdict "$g" data "${r#; }"
	echo "    $g: $nround rounds, ${secs:-?} s; $(grep -a -m1 '^SOAK-VERIFY' "$out")"

	# rss, fds, threads, qcow2 (and the samples must cover the soak)
	read -r mn st en mx lt n wn wmin wmax fmin fmax fmed lmin lmax lmed <<< "$(figures $g vmm)"
	if [ -z "${wn:-}" ] || [ "$wn" -lt 4 ]; then
		verdict "$g" samples "${wn:-0} samples after the ${WARMUP_S} s warm-up (want 4 or more)"
		continue
	fi
	verdict "$g" samples "$([ "$lt" -ge "$SOAK_SECONDS" ] || echo "samples end at $lt s, before $SOAK_SECONDS s")"
	verdict "$g" rss "$([ $((lmed - fmed)) -le "$RSS_SLACK_KIB" ] ||
		echo "lkvm's own RSS rose by $((lmed - fmed)) KiB (median $fmed KiB in the first quarter after the warm-up, $lmed in the last; bound $RSS_SLACK_KIB)")"
	echo "    $g: vmm KiB after the warm-up: $wmin..$wmax; first quarter median $fmed (max $fmax), last quarter median $lmed (max $lmax): $((lmed - fmed)) KiB"
	# the quiet points: the last sample of each idle phase
	q1=$(quiet $g idle-first) q2=$(quiet $g idle-last)
	if [ -z "$q1" ] || [ -z "$q2" ]; then
		verdict "$g" fds "no sample while the guest idled (first: ${q1:-none}, last: ${q2:-none})"
		verdict "$g" threads "no sample while the guest idled"
	else
		read -r qf1 qt1 qv1 <<< "$q1"
		read -r qf2 qt2 qv2 <<< "$q2"
		read -r mn st en mx lt n wn wmin wmax _ <<< "$(figures $g fds)"
		r=
		[ "$qf1" = "$qf2" ] || r="$qf1 open fds at the first quiet point, $qf2 at the last$(
			grep "^SOAK-FD-DIFF g=$g " "$log" | head -n 4 | sed 's/^SOAK-FD-DIFF g=[^ ]* /; /' | tr -d '\n')"
		[ $((wmax - qf1)) -le "$FD_RANGE" ] ||
			r="${r:+$r; }up to $wmax open fds after the warm-up, $((wmax - qf1)) over the quiet count (bound $FD_RANGE)"
		verdict "$g" fds "$r"
		echo "    $g: fds at the quiet points $qf1 and $qf2, busy after the warm-up $wmin..$wmax; lkvm's own KiB there $qv1 and $qv2"
		read -r mn st en mx lt n wn wmin wmax _ <<< "$(figures $g threads)"
		r=
		[ "$qt1" = "$qt2" ] || r="$qt1 threads at the first quiet point, $qt2 at the last"
		[ "$wmin" = "$wmax" ] || r="${r:+$r; }thread count changed after the warm-up: $wmin..$wmax"
		verdict "$g" threads "$r"
	fi
	read -r mn st en mx _ <<< "$(figures $g qcow2)"
	verdict "$g" qcow2 "$([ "$mx" -le $((QCOW2_VIRT_KIB + 4096)) ] ||
		echo "vdb's file grew to $mx KiB (virtual size $QCOW2_VIRT_KIB KiB)")"
done
say "console: ${OUT#"$top"/}/arm-tier/console-gicv3.log; guest logs: ${OUT#"$top"/}/logs; total $(($(date +%s) - t0)) s"
echo "$pass passed, $fail failed"
[ $fail = 0 ]

#!/bin/bash
# tests/crash/run.sh — crash consistency of lkvm's virtio-blk with a real guest.
#
# In the emulated arm64 KVM host (tests/arm), tests/crash/crash.jobs kills
# lkvm with SIGKILL at random moments while a guest writes, punches and
# fsyncs its disk (the CRASH_WRITE= mode of tests/guests/init/init.c): 8
# chains (arm64 BE and LE guests x mmio and mmio-legacy x raw and qcow2
# images) of CRASH_RUNS runs each (default 7: 56 kills), each run on the
# image the one before was killed on. The images and console logs come back
# on a scratch disk (HOST_SCRATCH, a tar) and are checked here on x86:
#   - qcow2: `qemu-img check` finds no corruption; leaked clusters are
#     allowed after a kill (as QEMU says too), counted, and bounded: at most
#     CRASH_LEAK_PER_KILL (48) per kill so far in the chain;
#   - every block of the 4 MiB region holds what tests/crash/check.c allows:
#     each write or punch the guest saw acknowledged after a flush (a
#     CRASH-ACK line) is there or overwritten by a later planned one, every
#     record is whole and where it belongs, and blocks the run never touched
#     are as the run before left them.
# Prints one line per kill, "PASS <kill> ..." or "FAIL <kill>: <reason>",
# then totals and "N passed, N failed". Exit 0 only if all passed. If the
# emulated host cannot run at all: "SKIP crash tier: <reason>" and exit 1
# (0 with ALLOW_SKIP=1).
#
# Env: LKVM_BIN (a static arm64 lkvm; default: tests/arm/run.sh builds one),
#      CRASH_RUNS (runs per chain, default 7), CRASH_OUT (default build/crash),
#      VERBOSE=1 (the host console on stderr), LKVM_CACHE, ARMHOST_CACHE,
#      CRASH_CHECK_ONLY=1 (check the last run's results again, no host boot).
# Takes about 6 minutes (5.5 measured for 56 kills) with the guests built
# (they are built first if not).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
OUT=$(realpath -m "${CRASH_OUT:-$top/build/crash}")
RUNS=${CRASH_RUNS:-7}
# lkvm reserves qcow2 clusters 32 at a time (Q2_POOL) and drops a freed
# cluster's refcount at the next flush: a kill may leak the reserve and a
# batch's punch (16 clusters at most); more than that per kill is a leak bug
LEAK_PER_KILL=${CRASH_LEAK_PER_KILL:-48}
case $RUNS in '' | *[!0-9]* | 0*) echo "crash: CRASH_RUNS must be a number >= 1" >&2; exit 2 ;; esac
say() { echo "crash: $*" >&2; }
skip() {
	echo "SKIP crash tier: $*"
	[ "${ALLOW_SKIP:-0}" = 1 ] && exit 0
	exit 1
}
t_start=$(date +%s)

command -v qemu-img >/dev/null || skip "qemu-img not found (apt-get install qemu-utils)"
command -v qemu-system-aarch64 >/dev/null || skip "qemu-system-aarch64 not found (apt-get install qemu-system-arm)"
mkdir -p "$OUT"
# one run per output folder at a time
exec 9> "$OUT.lock"
flock -n 9 || { say "another run uses ${OUT#"$top"/}; waiting"; flock 9; }
rm -rf "$OUT/raw"
mkdir -p "$OUT/raw"

if ! cc -O2 -Wall -Wextra -Werror -o "$OUT/check" "$here/check.c" 2> "$OUT/check-build.log"; then
	cat "$OUT/check-build.log" >&2
	echo "FAIL crash-checker: tests/crash/check.c does not build"
	echo "0 passed, 1 failed"
	exit 1
fi

pass=0 fail=0
if [ "${CRASH_CHECK_ONLY:-0}" = 1 ]; then
	# check the results of the last run again (e.g. with a changed checker)
	[ -f "$OUT/results/manifest" ] || { echo "crash: no earlier results in ${OUT#"$top"/}/results" >&2; exit 2; }
	arm_rc=0
	t_host=$(date +%s)
else
	rm -rf "$OUT/results" "$OUT/arm-tier.txt" "$OUT/scratch.raw"
	mkdir -p "$OUT/results"
	# the scratch disk: sparse, 1 GiB (56 runs leave about 250 MiB)
	truncate -s 1G "$OUT/scratch.raw"
	say "booting the emulated host (tests/arm/run.sh tests/crash/crash.jobs, CRASH_RUNS=$RUNS)"
	export CRASH_RUNS=$RUNS
	HOST_SCRATCH=$OUT/scratch.raw ARM_TIER_OUT=$OUT/arm-tier ARM_TIER_ENV="${ARM_TIER_ENV:-} CRASH_RUNS" \
		ALLOW_SKIP=0 "$top/tests/arm/run.sh" "$here/crash.jobs" > "$OUT/arm-tier.txt"
	arm_rc=$?
	if grep -q '^SKIP arm tier' "$OUT/arm-tier.txt"; then
		skip "$(sed -n 's/^SKIP arm tier: //p' "$OUT/arm-tier.txt" | head -n 1)"
	fi
	t_host=$(date +%s)
	if ! tar -xf "$OUT/scratch.raw" -C "$OUT/results" 2> "$OUT/tar.log" || [ ! -f "$OUT/results/manifest" ]; then
		grep -E '^(FAIL|SKIP) ' "$OUT/arm-tier.txt"
		echo "FAIL crash-results: no tar of results on the scratch disk ($(head -n 1 "$OUT/tar.log"))"
		echo "$pass passed, $((fail + 1)) failed"
		exit 1
	fi
	rm -f "$OUT/scratch.raw"
fi
job_log=$OUT/arm-tier/crash/output.log

# the host job itself (booted, ran, packed the tar)
if [ $arm_rc != 0 ]; then
	grep -E '^(FAIL|SKIP) ' "$OUT/arm-tier.txt" | sed 's/^FAIL crash:/FAIL crash-host-job:/'
	fail=$((fail + 1))
fi

# check_kill ID FORMAT RC MD5 PREV LOG...: prints "ok <details>" or the
# reasons the kill failed, one per line, and for qcow2 "LEAKS <n>" (leaked
# clusters, from qemu-img check) first. PREV: the raw image the run before
# left ("" for a chain's first run); LOG...: the chain's logs, oldest first.
check_kill() {
	local id=$1 fmt=$2 rc=$3 md5=$4 prev=$5 img=$OUT/results/$1.img raw=$OUT/raw/$1.raw
	local out st leaks qc
	shift 5
	[ -f "$img" ] || { echo "image missing from the tar"; return; }
	[ "$(md5sum < "$img" | cut -d' ' -f1)" = "$md5" ] || { echo "image damaged on the way back (md5)"; return; }
	case $fmt in
	qcow2*)
		qc=$(qemu-img check -f qcow2 "$img" 2>&1)
		st=$?
		echo "$qc" > "$OUT/raw/$id.qemu-img-check.txt"
		leaks=$(sed -n 's/^\([0-9]*\) leaked clusters were found.*/\1/p' <<< "$qc")
		echo "LEAKS ${leaks:-0}"
		# 0: clean, 3: leaks only; 2: corruptions, 1: could not check
		if [ $st != 0 ] && [ $st != 3 ]; then
			echo "qemu-img check status $st: $(grep -m3 -iE 'error|corrupt|leak' <<< "$qc" | tr '\n' ' ')"
			return
		fi
		qemu-img convert -f qcow2 -O raw "$img" "$raw" || { echo "qemu-img convert failed"; return; }
		;;
	*) cp "$img" "$raw" ;;
	esac
	[ "$rc" = 137 ] || echo "lkvm was not killed: it ended by itself first, status $rc"
	if grep -q 'lkvm:' "$OUT/results/$id.err"; then
		echo "lkvm said: $(grep -m1 'lkvm:' "$OUT/results/$id.err")"
	fi
	if [ -n "$prev" ]; then
		"$OUT/check" "$raw" -p "$prev" "$@"
	else
		"$OUT/check" "$raw" "$@"
	fi
}

kills=0 images=0 acked_total=0 acked_w_total=0 wblocks_total=0 leaks_total=0 leaky=0 expected=$((8 * RUNS))
declare -A chain_logs prev_raw chain_leaks
while read -r id c r v t fmt delay rc md5; do
	kills=$((kills + 1))
	[ -f "$OUT/results/$id.img" ] && images=$((images + 1))
	if [ "$r" = 1 ]; then
		chain_logs[$c]= prev_raw[$c]=
	fi
	chain_logs[$c]="${chain_logs[$c]} $OUT/results/$id.log"
	# shellcheck disable=SC2086 # the chain's logs, one word each
	res=$(check_kill "$id" "$fmt" "$rc" "$md5" "${prev_raw[$c]}" ${chain_logs[$c]})
	# the raw image of the run before is needed no more
	[ -n "${prev_raw[$c]}" ] && rm -f "${prev_raw[$c]}"
	prev_raw[$c]=
	[ -f "$OUT/raw/$id.raw" ] && prev_raw[$c]=$OUT/raw/$id.raw
	l=$(sed -n 's/^LEAKS //p' <<< "$res")
	res=$(grep -v '^LEAKS ' <<< "$res")
	if [ -n "$l" ]; then
		leaks_total=$((leaks_total + l))
		[ "$l" -gt 0 ] && leaky=$((leaky + 1))
		chain_leaks[$c]="$id:$l"
		# leaks are allowed, but not without bound
		if [ "$l" -gt $((r * LEAK_PER_KILL)) ]; then
			res="$(head -n 1 <<< "$res" | sed 's/^ok .*/FAIL/') $l leaked clusters after $r kills (bound: $LEAK_PER_KILL a kill)
$(tail -n +2 <<< "$res")"
		fi
	fi
	if [[ $res == ok\ * ]] && [ "$(wc -l <<< "$res")" = 1 ]; then
		kv() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<< "$res"; }
		acked_total=$((acked_total + $(kv run_acked)))
		acked_w_total=$((acked_w_total + $(kv run_acked_writes)))
		wblocks_total=$((wblocks_total + $(kv acked_write_blocks)))
		echo "PASS $id $v $t $fmt delay=${delay}s: ${res#ok }${l:+ leaked_clusters=$l}"
		pass=$((pass + 1))
	else
		echo "FAIL $id $v $t $fmt delay=${delay}s: $(head -n 1 <<< "$res" | sed 's/^FAIL //')${l:+ (qemu-img check: $l leaked clusters)}"
		tail -n +2 <<< "$res" | sed 's/^ */    /'
		fail=$((fail + 1))
	fi
done < "$OUT/results/manifest"
if [ $kills -lt $expected ]; then
	echo "FAIL crash-kills: $kills of $expected runs done (see ${job_log#"$top"/})"
	fail=$((fail + 1))
fi
t_end=$(date +%s)
echo "crash: $kills kills, $images images checked; in the passing ones $acked_total ops acknowledged before" \
	"the kill ($acked_w_total writes), all verified, in $wblocks_total block checks; leaked clusters:" \
	"$leaks_total summed over the images, in $leaky of them; at each qcow2 chain's end: ${chain_leaks[*]}"
say "host boot and kills $((t_host - t_start)) s, checks $((t_end - t_host)) s, total $((t_end - t_start)) s; results in ${OUT#"$top"/}/results"
echo "$pass passed, $fail failed"
[ $fail = 0 ]

# bench-lib.sh — helpers for the tests/bench jobs, sourced in the emulated
# host (each jobs file packs it with "@data bench-lib.sh" and runs
# ". $DATA/bench-lib.sh" in its prelude). busybox sh.
#
# A round's output (lkvm's and the guest's) goes to round.log, is checked
# there, then printed; tests/bench/run.sh reads these lines on x86:
#   BENCH-<METRIC> bytes|files=N sec=S nsec=NS   (from the guest init: rates)
#   BENCH-<METRIC> value=V unit=U                 (from here: other figures)
#   BENCH-MISSING <what>                          a round lacked a result; the
#                                                 job then exits 1 (bench_end)

bench_bad=0

# bench_rounds DEFAULT: "1 2 ... N" with N = $BENCH_ROUNDS (set by
# tests/bench/run.sh through ARM_TIER_ENV; CI uses 1) or DEFAULT
bench_rounds() {
	_n=${BENCH_ROUNDS:-$1}
	_i=1
	while [ "$_i" -le "$_n" ]; do
		printf '%s ' "$_i"
		_i=$((_i + 1))
	done
}

# bench_mib DEFAULT: a transfer size in MiB: DEFAULT, or a quarter of it
# with BENCH_QUICK=1 (CI: the same paths, a quarter of the data)
bench_mib() {
	if [ "${BENCH_QUICK:-0}" = 1 ]; then
		echo $(($1 / 4))
	else
		echo "$1"
	fi
}

# milliseconds on some clock: date +%s%N if this busybox has %N, else
# /proc/uptime (10 ms steps)
if _t=$(date +%s%N 2>/dev/null) && [ -n "$_t" ] && [ -z "$(echo "$_t" | tr -d 0-9)" ]; then
	bench_clock=date-ns
else
	bench_clock=uptime
fi
bench_ms() {
	if [ "$bench_clock" = date-ns ]; then
		_t=$(date +%s%N)
		echo $((_t / 1000000))
	else
		awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
	fi
}

# $BENCH_LKVM_OPTS (from tests/bench/run.sh; e.g. "--no-ioeventfd
# --no-irqfd" for the slow paths) go after "lkvm run" / "lkvm-dyn run"
# in bench_run and bench_boot.

# bench_run CMD...: run (job-lib.sh) with the output in round.log, then shown
bench_run() {
	case "$1 ${2:-}" in
	"lkvm run" | "lkvm-dyn run") _c=$1; shift 2; set -- "$_c" run ${BENCH_LKVM_OPTS:-} "$@" ;;
	esac
	run "$@" > round.log 2>&1
	cat round.log
}

# bench_boot CMD...: like bench_run, and times CMD from its start to the
# guest's first init line (GUEST-INIT-OK): BENCH-BOOT-INIT value=MS unit=ms
bench_boot() {
	case "$1 ${2:-}" in
	"lkvm run" | "lkvm-dyn run") _c=$1; shift 2; set -- "$_c" run ${BENCH_LKVM_OPTS:-} "$@" ;;
	esac
	echo "+ $*"
	_t0=$(bench_ms)
	{
		"$@" < /dev/null 2>&1
		echo "LKVM-RC $?"
	} | {
		_seen=
		while IFS= read -r _line; do
			if [ -z "$_seen" ]; then
				case $_line in
				*GUEST-INIT-OK*)
					_t1=$(bench_ms)
					_seen=1 ;;
				esac
			fi
			echo "$_line"
		done
		[ -n "$_seen" ] && echo "BENCH-BOOT-INIT value=$((_t1 - _t0)) unit=ms clock=$bench_clock"
	} > round.log
	cat round.log
}

# bench_need ERE...: each ERE must match a line of round.log, and lkvm
# must have exited 0; otherwise BENCH-MISSING and the job fails at the end
bench_need() {
	grep -q '^LKVM-RC 0$' round.log || { echo "BENCH-MISSING LKVM-RC 0"; bench_bad=1; }
	for _re in "$@"; do
		grep -qE -e "$_re" round.log || { echo "BENCH-MISSING $_re"; bench_bad=1; }
	done
}

# bench_stats: lkvm's exit statistics (--loglevel info) in round.log as
# value lines: lkvm's RSS beyond guest RAM, its own start-up time, and per
# virtio-blk request the MMIO exits, interrupts, all vCPU exits and the
# device thread's CPU time (lkvm's own work, whatever the guest's speed)
bench_stats() {
	tr -d '\r' < round.log | awk '
		function kv(key,   i) {
			for (i = 1; i <= NF; i++)
				if (index($i, key "=") == 1)
					return substr($i, length(key) + 2)
			return ""
		}
		/^lkvm: .*stats: rss_peak_kib=/ { rss = kv("overhead_kib") }
		/^lkvm: .*stats: exits=/ { exits = kv("exits"); setup = kv("start_to_first_run_us") }
		/^lkvm: .*stats: virtio-blk@/ {
			req = kv("buffers"); if (req == "") req = kv("requests")
			bexits = kv("mmio_exits"); irqs = kv("irqs"); cpu = kv("thread_cpu_us")
		}
		END {
			if (rss != "") printf "BENCH-RSS-OVERHEAD value=%d unit=KiB\n", rss
			if (setup != "" && setup >= 0) printf "BENCH-LKVM-SETUP value=%.1f unit=ms\n", setup / 1000
			if (req > 0 && bexits != "") printf "BENCH-BLK-EXITS-PER-REQ value=%.3f unit=exits\n", bexits / req
			if (req > 0 && irqs != "") printf "BENCH-BLK-IRQS-PER-REQ value=%.3f unit=irqs\n", irqs / req
			if (req > 0 && exits != "") printf "BENCH-VM-EXITS-PER-BLK-REQ value=%.3f unit=exits\n", exits / req
			if (req > 0 && cpu != "") printf "BENCH-BLK-CPU-PER-REQ value=%.2f unit=us\n", cpu / req
			if (rss == "") print "BENCH-NOTE no lkvm stats lines (lkvm without them, or no --loglevel info)"
		}'
}

# bench_end: the job's status (1 if a round lacked a result)
bench_end() {
	exit "$bench_bad"
}

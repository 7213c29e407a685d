#!/bin/bash
# tests/kut/run.sh [KUT_TREE...] — the kvm-unit-tests tier.
#
# Runs the real kvm-unit-tests (its own, unmodified run_tests.sh) against lkvm
# inside the emulated arm64 KVM host of tests/arm, and optionally against a
# second VMM (upstream kvmtool) in the same host boot, for comparison.
#
#   KUT_TREE   an already-built kvm-unit-tests tree (./configure --target=kvmtool
#              --arch=arm64|arm ... && make); its config.mak says which arch.
#              Several trees may be given (an arm64 and an arm build).  Default:
#              $KUT_TREES (blank-separated).  None: "SKIP kut tier: ...".
#
#   1. builds the static arm64 lkvm (make CROSS_COMPILE=aarch64-linux-gnu-
#      STATIC=1 O=build/arm64) unless LKVM_BIN is given
#   2. packs an emulated-host initramfs (tests/arm/mk-host-initrd.sh) with, per
#      tree, what run_tests.sh needs (run_tests.sh, config.mak, scripts/,
#      errata.txt, <arch dir>/run, unittests.cfg, *.flat), bash-static
#      (tests/kut/setup.sh), a timeout that does --foreground (host-bin/), and
#      the VMMs, each as "lkvm" in a directory of its own put first in PATH
#   3. boots the host once (under flock $KUT_EMUHOST_LOCK) and runs, per tree,
#      ./run_tests.sh with lkvm, then with kvmtool (KVMTOOL_BIN)
#   4. prints here one line per test and VMM,
#          PASS|FAIL|SKIP <vmm> <arch> <test> [reason]
#      then "total <vmm> <arch>: ..." lines, "DIFF <arch> <test>: ..." lines
#      for the tests kvmtool passes and lkvm does not, and last
#      "N passed, N failed": lkvm's PASSes, and lkvm's FAILs (a test that did
#      not run because the host or the job died or ran out of time is a FAIL);
#      with KUT_STRICT=1 a test kvmtool passes and lkvm does not is a failure too.
# Exit 0 only if nothing failed.  If the tier cannot run (no tree, no qemu, no
# host kernel, no bash-static) it prints "SKIP kut tier: <reason>" and exits 1,
# or 0 with ALLOW_SKIP=1.
#
# The packed copy of each tree's config.mak gets four lines appended (the tree
# itself is not touched): HOST=aarch64 (the tree was cross-built on x86, and the
# runner checks HOST before it uses KVM), SRCDIR and ERRATATXT pointing at the
# packed copy, and PRETTY_PRINT_STACKS=no (the host has no python).
#
# Output (build/kut-tier/): console.log (the host console), results.tsv
# (vmm arch test status secs reason), table.txt (test x lkvm x kvmtool), and
# per job <job>/output.log (run_tests.sh's output) and <job>/logs/ (run_tests.sh's
# logs directory: one <test>.log each, with the VMM's command line and output).
#
# Env: LKVM_BIN=PATH     a static arm64 lkvm to use instead of building one
#      KVMTOOL_BIN=PATH  a static arm64 kvmtool to run the same way (as "lkvm")
#      KUT_TREES         trees when none are given as arguments
#      KUT_TIMEOUT       per-test limit, the runner's TIMEOUT (default 90s)
#      KUT_ARGS          run_tests.sh arguments (default -j1); e.g. "-g gic",
#                        or test names
#      KUT_MAX_SMP       the runner's MAX_SMP (default: the host's CPUs, 2);
#                        its-trigger wants 4
#      KUT_STRICT=1      count "kvmtool passes, lkvm does not" as failures
#      KUT_OUT           output folder (default build/kut-tier)
#      KUT_EMUHOST_LOCK  the lock every emulated-host boot takes (default
#                        /tmp/lkvm-emuhost.lock; empty: no lock — for a caller
#                        that already holds it, as flock would wait on itself)
#      VERBOSE=1         stream the host console to stderr
#      HOST_TIMEOUT      limit for the host boot (default: sum of the job
#                        limits + 180 s; a job's limit is its tests x
#                        (KUT_TIMEOUT + 15 s) + 120 s)
#      LKVM_CACHE, KUT_CACHE, ARMHOST_CACHE (tests/kut/setup.sh, tests/arm/setup.sh)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
OUT=$(realpath -m "${KUT_OUT:-$top/build/kut-tier}")
WORK=$OUT/_work
CACHE=${LKVM_CACHE:-$HOME/.cache/lkvm}
export LKVM_CACHE=$CACHE
KUT_CACHE=${KUT_CACHE:-$CACHE/kut}
export KUT_CACHE
KUT_TIMEOUT=${KUT_TIMEOUT:-90s}
KUT_ARGS=${KUT_ARGS--j1}
LOCK=${KUT_EMUHOST_LOCK-/tmp/lkvm-emuhost.lock}

say() { echo "kut: $*" >&2; }
skip() {
	echo "SKIP kut tier: $*"
	[ "${ALLOW_SKIP:-0}" = 1 ] && exit 0
	exit 1
}
die() {
	echo "FAIL kut-tier: $*"
	echo "0 passed, 1 failed"
	exit 1
}
elapsed() { echo $(( $(date +%s) - $1 )); }
T0=$(date +%s)

# ------------------------------------------------------------------ the trees
if [ $# -gt 0 ]; then
	trees=("$@")
else
	read -r -a trees <<< "${KUT_TREES:-}"
fi
[ ${#trees[@]} -gt 0 ] ||
	skip "no kvm-unit-tests tree given (tests/kut/run.sh KUT_TREE... or KUT_TREES=; see tests/kut/README.md)"

# the values this script reads from a tree's config.mak (plain NAME=value lines)
cfg() { sed -n "s/^$2=//p" "$1/config.mak" | tail -n1; }

[[ $KUT_TIMEOUT =~ ^[0-9]+[smh]?$ ]] || die "KUT_TIMEOUT must be like 90s, not '$KUT_TIMEOUT'"
tmo_s=${KUT_TIMEOUT%[smh]}
case $KUT_TIMEOUT in *m) tmo_s=$((tmo_s * 60)) ;; *h) tmo_s=$((tmo_s * 3600)) ;; esac
# KUT_ARGS is pasted into a shell script in the host: plain words only
[[ $KUT_ARGS =~ ^[A-Za-z0-9\ ._,=-]*$ ]] || die "KUT_ARGS may hold only [A-Za-z0-9 ._,=-]"
[[ ${KUT_MAX_SMP:-1} =~ ^[1-9][0-9]*$ ]] || die "KUT_MAX_SMP must be a number, not '$KUT_MAX_SMP'"

list_args=() only=()
set -- $KUT_ARGS
while [ $# -gt 0 ]; do
	case $1 in
	-j|--parallel) shift ;;
	-g|--group) list_args+=(-g "${2:-}"); shift ;;
	-*) ;;
	*) only+=("$1") ;;
	esac
	shift
done

# one run per output folder at a time
mkdir -p "$(dirname "$OUT")"
exec 8> "$OUT.lock"
if ! flock -n 8; then
	say "another run uses ${OUT#"$top"/}; waiting for it (or set KUT_OUT)"
	flock 8
fi
if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/.kut-tier" ]; then
	die "$OUT is not empty and was not made by tests/kut/run.sh; not wiping it"
fi
rm -rf "$OUT"
mkdir -p "$WORK/stage/trees" "$WORK/stage/bin" "$WORK/stage/vmm"
: > "$OUT/.kut-tier"

labels=() arches=()
declare -A seen_label
for t in "${trees[@]}"; do
	[ -d "$t" ] || die "no KUT tree $t"
	t=$(cd "$t" && pwd)
	[ -f "$t/config.mak" ] || die "$t: no config.mak (./configure --target=kvmtool first; see tests/kut/README.md)"
	[ -f "$t/run_tests.sh" ] || die "$t: no run_tests.sh: not a kvm-unit-tests tree"
	arch=$(cfg "$t" ARCH) target=$(cfg "$t" TARGET) tdir=$(cfg "$t" TEST_DIR)
	case $arch in arm64|arm) ;; *) die "$t: ARCH=$arch in config.mak; this tier takes arm64 and arm trees" ;; esac
	[ "$target" = kvmtool ] || die "$t: TARGET=${target:-qemu} in config.mak; configure it with --target=kvmtool"
	[ -n "$tdir" ] && [ -f "$t/$tdir/unittests.cfg" ] && [ -f "$t/$tdir/run" ] || die "$t: no $tdir/unittests.cfg or $tdir/run"
	ls "$t/$tdir"/*.flat > /dev/null 2>&1 || die "$t: no $tdir/*.flat: build it first (make)"
	label=$arch n=2
	while [ -n "${seen_label[$label]:-}" ]; do label=$arch-$n; n=$((n + 1)); done
	seen_label[$label]=$t
	labels+=("$label") arches+=("$arch")

	# the packed copy: only what run_tests.sh and <arch>/run use
	s=$WORK/stage/trees/$label
	mkdir -p "$s/$tdir"
	cp "$t/run_tests.sh" "$t/config.mak" "$s/"
	for f in build-head errata.txt; do [ -f "$t/$f" ] && cp "$t/$f" "$s/"; done
	cp -R "$t/scripts" "$s/"
	cp "$t/$tdir/run" "$t/$tdir/unittests.cfg" "$t/$tdir"/*.flat "$s/$tdir/"
	errata=$(cfg "$t" ERRATATXT)
	if [ -n "$errata" ] && [ "$errata" != "$t/errata.txt" ]; then
		[ -f "$errata" ] || die "$t: ERRATATXT=$errata does not exist"
		cp "$errata" "$s/errata.txt"
	fi
	[ -n "$errata" ] && errata=/data/kut/trees/$label/errata.txt
	{
		echo "# tests/kut/run.sh: this copy runs in the emulated arm64 KVM host"
		echo "HOST=aarch64"
		echo "SRCDIR=/data/kut/trees/$label"
		echo "ERRATATXT=$errata"
		echo "PRETTY_PRINT_STACKS=no"
	} >> "$s/config.mak"
	# the test list, in the runner's order (its -l reads unittests.cfg only),
	# narrowed as KUT_ARGS narrows the run (-g GROUP, test names)
	if ! (cd "$s" && ./run_tests.sh -l "${list_args[@]}") > "$WORK/$label.tests.all" 2> "$WORK/$label.tests.err"; then
		cat "$WORK/$label.tests.err" >&2
		die "$t: ./run_tests.sh -l failed"
	fi
	if [ ${#only[@]} -gt 0 ]; then
		grep -xF "${only[@]/#/-e}" "$WORK/$label.tests.all" > "$WORK/$label.tests"
	else
		cp "$WORK/$label.tests.all" "$WORK/$label.tests"
	fi
	[ -s "$WORK/$label.tests" ] || die "$t: no test to run (KUT_ARGS='$KUT_ARGS')"
	say "tree $label: $t ($(wc -l < "$WORK/$label.tests") tests)"
done

# ------------------------------------------------------- host, bash, the VMMs
if ! "$here/setup.sh" > "$WORK/setup.log" 2>&1; then
	sed 's/^/    /' "$WORK/setup.log" | tail -n 15 >&2
	skip "tests/kut/setup.sh failed: $(tail -n 1 "$WORK/setup.log")"
fi
command -v qemu-system-aarch64 > /dev/null || skip "qemu-system-aarch64 not found (apt-get install qemu-system-arm)"
cp "$KUT_CACHE/bash" "$WORK/stage/bin/bash"
cp "$here/host-bin/timeout" "$WORK/stage/bin/timeout"
cp "$here/host-lib.sh" "$WORK/stage/host-lib.sh"
chmod 0755 "$WORK/stage/bin/bash" "$WORK/stage/bin/timeout"

# check_arm64_bin NAME PATH: an arm64 ELF (static: the host has no libc)
check_arm64_bin() {
	local desc
	[ -f "$2" ] || die "$1=$2 does not exist"
	command -v file > /dev/null || return 0
	desc=$(file -L "$2")
	case $desc in *ELF*aarch64*) ;; *) die "$1=$2 is not an arm64 ELF binary: ${desc#*: }" ;; esac
	case $desc in *dynamically\ linked*) die "$1=$2 is dynamically linked; the emulated host has no libc" ;; esac
}
if [ -n "${LKVM_BIN:-}" ]; then
	lkvm=$LKVM_BIN
	check_arm64_bin LKVM_BIN "$lkvm"
	say "using LKVM_BIN=$lkvm (no build)"
else
	lkvm=$top/build/arm64/lkvm
	t0=$(date +%s)
	say "building lkvm: make CROSS_COMPILE=aarch64-linux-gnu- STATIC=1 O=build/arm64"
	if ! make -C "$top" -j2 CROSS_COMPILE=aarch64-linux-gnu- STATIC=1 O=build/arm64 \
			> "$OUT/build-lkvm.log" 2>&1 || [ ! -f "$lkvm" ]; then
		tail -n 30 "$OUT/build-lkvm.log" | sed 's/^/    /' >&2
		die "lkvm build failed (log: ${OUT#"$top"/}/build-lkvm.log)"
	fi
	say "lkvm built in $(elapsed "$t0") s from $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$top" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
fi
vmms=(lkvm)
if [ -n "${KVMTOOL_BIN:-}" ]; then
	check_arm64_bin KVMTOOL_BIN "$KVMTOOL_BIN"
	mkdir -p "$WORK/stage/vmm/kvmtool"
	cp "$KVMTOOL_BIN" "$WORK/stage/vmm/kvmtool/lkvm"
	chmod 0755 "$WORK/stage/vmm/kvmtool/lkvm"
	vmms+=(kvmtool)
	say "kvmtool: $KVMTOOL_BIN"
fi

# ------------------------------------------------------------------ the jobs
# one job per tree and VMM: lkvm, then kvmtool, tree after tree
jobs=() job_vmm=() job_label=()
jf=$WORK/host.jobs
{
	echo "KUT_TIMEOUT='$KUT_TIMEOUT'"
	echo "KUT_ARGS='$KUT_ARGS'"
	echo "KUT_MAX_SMP='${KUT_MAX_SMP:-}'"
	echo ". /data/kut/host-lib.sh"
} > "$jf"
limit_sum=0
for i in "${!labels[@]}"; do
	label=${labels[$i]}
	ntests=$(wc -l < "$WORK/$label.tests")
	lim=$((ntests * (tmo_s + 15) + 120))
	for v in "${vmms[@]}"; do
		j=$v-$label
		jobs+=("$j") job_vmm+=("$v") job_label+=("$label")
		printf '@job %s %d\nkut_run %s %s %s\n' "$j" "$lim" "$j" "$v" "$label" >> "$jf"
		limit_sum=$((limit_sum + lim + 5))
	done
done
initrd=$WORK/host.cpio
if ! "$top/tests/arm/mk-host-initrd.sh" "$initrd" "$lkvm" "$jf" "$WORK/stage:kut" 2> "$WORK/mk-host.log"; then
	cat "$WORK/mk-host.log" >&2
	die "packing the host initramfs failed: $(tail -n 1 "$WORK/mk-host.log")"
fi

# ------------------------------------------------------------------ the boot
console=$OUT/console.log
htmo=${HOST_TIMEOUT:-$((limit_sum + 180))}
boot() {
	HOST_TIMEOUT=$htmo "$top/tests/arm/run-host.sh" "$initrd" 2>> "$WORK/run-host.log" |
		stdbuf -oL tr -d '\r' | if [ "${VERBOSE:-0}" = 1 ]; then tee "$console" >&2; else cat > "$console"; fi
	return "${PIPESTATUS[0]}"
}
if [ -n "$LOCK" ]; then
	exec 9> "$LOCK"
	if ! flock -n 9; then
		say "waiting for the emulated host ($LOCK): another run is using it"
		tw=$(date +%s)
		flock 9
		say "got the emulated host after $(elapsed "$tw") s"
	fi
fi
say "booting the emulated host: ${#jobs[@]} jobs (${jobs[*]}), limit ${htmo} s, console ${console#"$top"/}"
tb=$(date +%s)
boot
qrc=$?
boot_s=$(elapsed "$tb")
[ -n "$LOCK" ] && exec 9>&-
say "host done in $boot_s s (qemu rc=$qrc)"
if grep -qE '^\[ *[0-9]+\.[0-9]+\] Kernel panic' "$console" && ! grep -q '^=== HOST DONE' "$console"; then
	host_why="the host kernel panicked"
elif [ "$qrc" = 124 ]; then
	host_why="the host ran out of time (HOST_TIMEOUT=${htmo}s)"
elif killed=$(grep -o 'terminating on signal [0-9]* from pid [0-9]*' "$WORK/run-host.log"); then
	# qemu exits 0 then: someone else ended it
	host_why="qemu was stopped from outside ($killed)"
elif ! grep -q '=== HOST UP' "$console"; then
	host_why="the host never reached /init (qemu rc=$qrc)"
elif grep -q '=== HOST KVM missing' "$console"; then
	host_why="no /dev/kvm in the emulated host"
else
	host_why="the host stopped early (qemu rc=$qrc)"
fi

# ----------------------------------------------------------------- the results
# per job: output.log (the runner's lines, colours stripped), times, logs/
: > "$OUT/results.tsv"
declare -A res reason
for k in "${!jobs[@]}"; do
	j=${jobs[$k]} v=${job_vmm[$k]} label=${job_label[$k]}
	d=$OUT/$j
	mkdir -p "$d"
	grep -a "^KUT $j " "$console" | sed 's/\x1b\[[0-9;]*m//g' > "$d/kut.lines"
	sed -n 's/^KUT [^ ]* [0-9.]* OUT //p' "$d/kut.lines" > "$d/output.log"
	# the logs directory, sent back base64 between HOST-FILE markers
	awk -v name="$j-logs.tgz" -v out="$d" '
		$0 == "HOST-FILE-BEGIN " name { on = 1; printf "" > (out "/.logs.b64"); next }
		on && index($0, "HOST-FILE-END " name " md5=") == 1 { on = 0; sub(/.* md5=/, ""); print > (out "/.logs.md5"); next }
		on { print > (out "/.logs.b64") }
	' "$console"
	if [ -f "$d/.logs.md5" ] && base64 -d < "$d/.logs.b64" > "$d/.logs.tgz" 2> /dev/null &&
			[ "$(md5sum < "$d/.logs.tgz" | cut -d' ' -f1)" = "$(cat "$d/.logs.md5")" ]; then
		mkdir -p "$d/logs"
		tar -xzf "$d/.logs.tgz" -C "$d/logs" --strip-components=1
	fi
	rm -f "$d/.logs.b64" "$d/.logs.md5" "$d/.logs.tgz"
	# why tests of this job have no result line
	end=$(grep -aoE "=== JOB $j END rc=[0-9]+" "$console" | sed 's/.*rc=//')
	if ! grep -q " START vmm=" "$d/kut.lines"; then
		why="did not run: $host_why"
	elif [ "$end" = 124 ]; then
		why="did not finish: the job ran out of time"
	elif [ -z "$end" ]; then
		why="did not finish: $host_why"
	else
		why="no result line from run_tests.sh (see ${d#"$top"/}/output.log)"
	fi
	# result lines: "STATUS name (summary or reason)" with uptime stamps
	awk -v v="$v" -v a="$label" '
		/ START vmm=/ { prev = $3; next }
		$4 != "OUT" { next }
		$5 ~ /^(PASS|FAIL|SKIP)$/ && NF >= 6 {
			rest = $0; for (i = 1; i <= 6; i++) sub(/^[^ ]+ ?/, "", rest)
			sub(/^\(/, "", rest); sub(/\)[ \t]*$/, "", rest); sub(/^[ \t]+/, "", rest)
			printf "%s\t%s\t%s\t%s\t%.1f\t%s\n", v, a, $6, $5, $3 - prev, rest
			prev = $3
		}' "$d/kut.lines" > "$d/results.tsv"
	while read -r test; do
		line=$(awk -F'\t' -v t="$test" '$3 == t { print; exit }' "$d/results.tsv")
		if [ -z "$line" ]; then
			line=$(printf '%s\t%s\t%s\tFAIL\t-\t%s' "$v" "$label" "$test" "$why")
		fi
		echo "$line" >> "$OUT/results.tsv"
		IFS=$'\t' read -r _ _ _ st _ rs <<< "$line"
		res[$v,$label,$test]=$st reason[$v,$label,$test]=$rs
	done < "$WORK/$label.tests"
done

# ------------------------------------------------------------------ report
while IFS=$'\t' read -r v a t st secs rs; do
	echo "$st $v $a $t${rs:+ $rs}"
done < "$OUT/results.tsv"

passed=0 failed=0
for i in "${!labels[@]}"; do
	label=${labels[$i]}
	for v in "${vmms[@]}"; do
		j=$v-$label
		read -r np nf ns secs < <(awk -F'\t' -v v="$v" -v a="$label" '
			$1 == v && $2 == a { n[$4]++; if ($5 != "-") s += $5 }
			END { printf "%d %d %d %d\n", n["PASS"], n["FAIL"], n["SKIP"], s }' "$OUT/results.tsv")
		jsecs=$(grep -aoE "=== JOB $j END rc=[0-9]+ secs=[0-9.]+" "$console" | sed 's/.*secs=//')
		echo "total $v $label: $np passed, $nf failed, $ns skipped of $((np + nf + ns)) (job ${jsecs:-?} s)"
		if [ "$v" = lkvm ]; then
			passed=$((passed + np)) failed=$((failed + nf))
		fi
	done
done
# where kvmtool passes and lkvm does not
ndiff=0
if [ ${#vmms[@]} -gt 1 ]; then
	for label in "${labels[@]}"; do
		while read -r test; do
			kt=${res[kvmtool,$label,$test]:-} lt=${res[lkvm,$label,$test]:-}
			if [ "$kt" = PASS ] && [ "$lt" != PASS ]; then
				echo "DIFF $label $test: kvmtool PASS, lkvm $lt${reason[lkvm,$label,$test]:+ (${reason[lkvm,$label,$test]})}"
				ndiff=$((ndiff + 1))
				[ "${KUT_STRICT:-0}" = 1 ] && [ "$lt" != FAIL ] && failed=$((failed + 1))
			fi
		done < "$WORK/$label.tests"
	done
fi

# the side-by-side table (a file; the summary says where)
{
	for label in "${labels[@]}"; do
		printf '%-34s %-6s %s\n' "$label test" lkvm "$([ ${#vmms[@]} -gt 1 ] && echo kvmtool)"
		while read -r test; do
			printf '%-34s %-6s %s\n' "$test" "${res[lkvm,$label,$test]}" "${res[kvmtool,$label,$test]:-}"
		done < "$WORK/$label.tests"
		echo
	done
} > "$OUT/table.txt"
say "table: ${OUT#"$top"/}/table.txt; logs: ${OUT#"$top"/}/<job>/logs/; whole run $(elapsed "$T0") s (host boot $boot_s s)"
[ "$ndiff" -gt 0 ] && say "$ndiff test(s) pass with kvmtool and not with lkvm$([ "${KUT_STRICT:-0}" = 1 ] && echo " (counted as failures: KUT_STRICT=1)")"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

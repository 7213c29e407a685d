#!/bin/bash
# tests/arm/run.sh [JOBFILE...] — the emulated-arm64 test tier.
#
#   1. builds the static arm64 lkvm (make CROSS_COMPILE=aarch64-linux-gnu- STATIC=1 O=build/arm64)
#   2. builds (or takes from the cache) the test guests the jobs name (tests/guests/build.sh)
#   3. reads the job files (default: tests/arm/jobs/*.jobs; syntax in tests/arm/README.md)
#   4. packs one host initramfs per host kind (GICv3; GICv2 only if a job asks
#      for it) with lkvm, the guests under /data/<variant>/ and the jobs
#   5. boots the emulated arm64 KVM host once per host kind
#   6. checks each job's expectations here on x86 and prints exactly one line
#      per job, "PASS <job>" or "FAIL <job>: <reason>" (then the job's last
#      lines, indented), and last "N passed, N failed".
# Exit 0 only if every job passed.  If the tier cannot run at all (no
# qemu-system-aarch64, no host kernel) it prints "SKIP arm tier: <reason>" and
# exits 1, or 0 with ALLOW_SKIP=1.
#
# Output: build/arm-tier/ — console-gicv3.log (console-gicv2.log), and per job
# <job>/output.log plus the files the job sent back (host_file).
#
# Env: LKVM_BIN=PATH      use this static arm64 binary instead of building lkvm
#      LKVM_DYN_BIN=PATH  the same for lkvm-dyn (dynamic, with libslirp), which
#                         is built (O=build/arm64-dyn) only if a job runs lkvm-dyn
#      ARM_TIER_GUESTS    guests to build and pack: "all", "none" or a list
#                         (default: the variants whose names appear in the jobs)
#      ARM_TIER_OUT       output folder (default build/arm-tier)
#      VERBOSE=1          stream the host consoles to stderr while they run
#      HOST_TIMEOUT       limit for one host boot (default: the sum of its job
#                         limits + 120 s)
#      LKVM_CACHE, ARMHOST_CACHE, JOB_TIMEOUT (default job limit, 120 s)
#      ARM_TIER_ENV="NAME..."  these variables of this environment are set at
#                         the top of every job script (tests/bench: BENCH_ROUNDS)
#      HOST_SCRATCH=FILE  (passed on to run-host.sh) a raw image the host sees
#                         as a virtio-blk disk; tests/crash brings its images
#                         back in it
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
OUT=$(realpath -m "${ARM_TIER_OUT:-$top/build/arm-tier}")
WORK=$OUT/_work
# one run per output folder at a time (parallel runs: different ARM_TIER_OUT)
mkdir -p "$(dirname "$OUT")"
exec 8> "$OUT.lock"
if ! flock -n 8; then
	echo "arm: another run uses ${OUT#"$top"/}; waiting for it (or set ARM_TIER_OUT)" >&2
	flock 8
fi
CACHE=${LKVM_CACHE:-$HOME/.cache/lkvm}
export LKVM_CACHE=$CACHE
JOB_TIMEOUT=${JOB_TIMEOUT:-120}
VARIANTS="arm64-be arm64-le arm-be arm-le"

say() { echo "arm: $*" >&2; }
skip() {
	echo "SKIP arm tier: $*"
	[ "${ALLOW_SKIP:-0}" = 1 ] && exit 0
	exit 1
}
elapsed() { echo $(( $(date +%s) - $1 )); }

# ---------------------------------------------------------------- job files
if [ $# -gt 0 ]; then
	jobfiles=("$@")
else
	jobfiles=("$here"/jobs/*.jobs)
fi
for f in "${jobfiles[@]}"; do
	[ -f "$f" ] || { echo "FAIL job-files: no job file $f"; echo "0 passed, 1 failed"; exit 1; }
done

# Results of an earlier run must never count: start from an empty folder
# (but never wipe a folder this script did not make: ARM_TIER_OUT may be wrong).
if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/.arm-tier" ] && [ ! -d "$OUT/_work" ]; then
	echo "FAIL job-files: $OUT is not empty and was not made by tests/arm/run.sh; not wiping it"
	echo "0 passed, 1 failed"
	exit 1
fi
rm -rf "$OUT"
mkdir -p "$WORK/parsed"
: > "$OUT/.arm-tier"

# Parse every job file into $WORK/parsed/NNN.{sh,expect} and $WORK/parsed/list
# ("NNN<TAB>name<TAB>timeout<TAB>gic<TAB>file:line").  Expectations are kept
# here; the scripts that go into the host get none of the @ lines.
if ! awk -v dir="$WORK/parsed" -v deftmo="$JOB_TIMEOUT" '
	function err(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; bad = 1 }
	function okname(s) { return s ~ /^[A-Za-z0-9][A-Za-z0-9._-]*$/ }
	# a job folder sits next to the logs in build/arm-tier: no *.log names
	function okjob(s) { return okname(s) && s !~ /\.log$/ }
	FNR == 1 {
		if (cur != "") { close(cur ".sh"); close(cur ".expect") }
		prelude = ""; cur = ""
		fdir = FILENAME; if (!sub(/\/[^\/]*$/, "", fdir)) fdir = "."
	}
	/^[ \t]*@/ {
		word = $1
		rest = $0; sub(/^[ \t]*@[^ \t]*[ \t]*/, "", rest); sub(/[ \t]+$/, "", rest)
		if (word == "@job") {
			if (cur != "") { close(cur ".sh"); close(cur ".expect") }
			n++; cur = dir "/" sprintf("%03d", n)
			name = $2; tmo = deftmo; gic = 3
			if (!okjob(name)) err("bad job name \"" name "\" (want [A-Za-z0-9][A-Za-z0-9._-]*, not *.log)")
			else if (name in seen) err("duplicate job name " name " (first at " seen[name] ")")
			seen[name] = FILENAME ":" FNR
			for (i = 3; i <= NF; i++) {
				if ($i ~ /^[0-9]+$/) tmo = $i
				else if ($i == "gicv2") gic = 2
				else if ($i == "gicv3") gic = 3
				else err("unknown @job option \"" $i "\" (want a timeout in seconds or gicv2)")
			}
			printf "%s\t%s\t%s\t%s\t%s:%d\n", sprintf("%03d", n), name, tmo, gic, FILENAME, FNR > (dir "/list")
			printf "%s", prelude > (cur ".sh")
			printf "" > (cur ".expect")
			next
		}
		if (word == "@make") {
			if (cur != "") { err("@make belongs in the prelude (before the first @job)"); next }
			if (NF < 3 || !okname($2)) { err("usage: @make NAME COMMAND..."); next }
			cmdline = rest; sub(/^[^ \t]+[ \t]+/, "", cmdline)
			printf "%s\t%s\n", $2, cmdline > (dir "/make")
			next
		}
		if (word == "@host-modules") {
			if (cur != "") { err("@host-modules belongs in the prelude (before the first @job)"); next }
			if (NF < 2) { err("usage: @host-modules MODULE..."); next }
			for (i = 2; i <= NF; i++) printf "%s\n", $i > (dir "/modules")
			next
		}
		if (word == "@data") {
			if (cur != "") { err("@data belongs in the prelude (before the first @job)"); next }
			if (NF < 2 || NF > 3) { err("usage: @data SRC [DEST]"); next }
			src = $2; if (src !~ /^\//) src = fdir "/" src
			dst = (NF == 3) ? $3 : $2; sub(/.*\//, "", dst)
			printf "%s:%s\n", src, dst > (dir "/data")
			next
		}
		if (word !~ /^@expect-(rc|line|grep|no-grep|count|file|dtb|host-cmd)$/) { err("unknown directive " word); next }
		if (cur == "") { err(word " outside a job (before the first @job)"); next }
		if (word == "@expect-rc" && rest !~ /^[0-9]+$/) err("usage: @expect-rc N")
		else if (word == "@expect-count" && rest !~ /^[0-9]+[ \t]+[^ \t]/) err("usage: @expect-count N ERE")
		else if (word == "@expect-file" && (NF != 2 || !okname($2))) err("usage: @expect-file NAME")
		else if (word == "@expect-dtb" && (NF < 3 || !okname($2))) err("usage: @expect-dtb NAME ERE...")
		else if (rest == "") err("usage: " word " ARGUMENT")
		printf "%s\t%s\n", substr(word, 2), rest > (cur ".expect")
		next
	}
	cur == "" { prelude = prelude $0 "\n"; next }
	{ print > (cur ".sh") }
	END {
		if (!n) { print "no @job lines in the job files" > "/dev/stderr"; bad = 1 }
		exit bad
	}
' "${jobfiles[@]}"; then
	echo "FAIL job-files: syntax errors (above)"
	echo "0 passed, 1 failed"
	exit 1
fi

# ARM_TIER_ENV: plain names and values only (they are pasted into sh scripts)
for v in ${ARM_TIER_ENV:-}; do
	if [[ ! $v =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [[ ${!v-} =~ [^A-Za-z0-9\ ._,:/=+-] ]]; then
		echo "FAIL job-files: ARM_TIER_ENV: $v is no variable name or its value has characters other than [A-Za-z0-9 ._,:/=+-]"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

# the job table, in job-file order
ids=() names=() tmos=() gics=()
while IFS=$'\t' read -r id name tmo gic _; do
	ids+=("$id") names+=("$name") tmos+=("$tmo") gics+=("$gic")
done < "$WORK/parsed/list"
njobs=${#ids[@]}
say "${#jobfiles[@]} job file(s), $njobs jobs"

# ------------------------------------------- whole-tier failures before booting
# fail_all REASON: every job FAILs with REASON (nothing ran, so nothing passes)
fail_all() {
	local i
	for i in "${!ids[@]}"; do echo "FAIL ${names[$i]}: $1"; done
	echo "0 passed, $njobs failed"
	exit 1
}

# the emulated host: qemu + Debian's arm64 kernel + busybox (idempotent, ~0.1 s when ready)
if ! "$here/setup.sh" > "$WORK/setup.log" 2>&1; then
	sed 's/^/    /' "$WORK/setup.log" | tail -n 15 >&2
	skip "tests/arm/setup.sh failed: $(tail -n 1 "$WORK/setup.log")"
fi
command -v qemu-system-aarch64 >/dev/null || skip "qemu-system-aarch64 not found (apt-get install qemu-system-arm)"

# lkvm, static for arm64 (the host's initramfs has no libc)
if [ -n "${LKVM_BIN:-}" ]; then
	lkvm=$LKVM_BIN
	say "using LKVM_BIN=$lkvm (no build)"
	[ -f "$lkvm" ] || fail_all "LKVM_BIN=$lkvm does not exist"
else
	lkvm=$top/build/arm64/lkvm
	t0=$(date +%s)
	say "building lkvm: make CROSS_COMPILE=aarch64-linux-gnu- STATIC=1 O=build/arm64"
	if ! make -C "$top" -j"$(nproc)" CROSS_COMPILE=aarch64-linux-gnu- STATIC=1 O=build/arm64 \
			> "$OUT/build-lkvm.log" 2>&1 || [ ! -f "$lkvm" ]; then
		tail -n 30 "$OUT/build-lkvm.log" | sed 's/^/    /' >&2
		fail_all "lkvm build failed (log: ${OUT#"$top"/}/build-lkvm.log)"
	fi
	say "lkvm built in $(elapsed "$t0") s: $lkvm"
fi

# lkvm-dyn: a dynamic arm64 lkvm with libslirp (-n mode=user: Debian has no
# static libslirp), packed with its shared libraries and the arm64 dynamic
# loader; built only when a job runs it
lkvm_dyn=
if grep -qE '(^|[^A-Za-z0-9_-])lkvm-dyn([^A-Za-z0-9_-]|$)' "$WORK"/parsed/*.sh; then
	if [ -n "${LKVM_DYN_BIN:-}" ]; then
		lkvm_dyn=$LKVM_DYN_BIN
		[ -f "$lkvm_dyn" ] || fail_all "LKVM_DYN_BIN=$lkvm_dyn does not exist"
	else
		lkvm_dyn=$top/build/arm64-dyn/lkvm
		t0=$(date +%s)
		say "building lkvm-dyn: make CROSS_COMPILE=aarch64-linux-gnu- SLIRP=1 O=build/arm64-dyn"
		if ! make -C "$top" -j"$(nproc)" CROSS_COMPILE=aarch64-linux-gnu- SLIRP=1 O=build/arm64-dyn \
				> "$OUT/build-lkvm-dyn.log" 2>&1 || [ ! -f "$lkvm_dyn" ]; then
			tail -n 30 "$OUT/build-lkvm-dyn.log" | sed 's/^/    /' >&2
			fail_all "lkvm-dyn build failed (needs libslirp-dev:arm64; log: ${OUT#"$top"/}/build-lkvm-dyn.log)"
		fi
		say "lkvm-dyn built in $(elapsed "$t0") s: $lkvm_dyn"
	fi
fi

# the guests: those whose variant name appears in the jobs, unless told
case ${ARM_TIER_GUESTS:-auto} in
auto)
	want=
	for v in $VARIANTS; do
		grep -qE "(^|[^A-Za-z0-9_-])$v([^A-Za-z0-9_-]|$)" "$WORK"/parsed/*.sh && want="$want $v"
	done ;;
all) want=$VARIANTS ;;
none) want= ;;
*) want=$ARM_TIER_GUESTS ;;
esac
payload=()
if [ -n "$want" ]; then
	t0=$(date +%s)
	say "guests:$want (tests/guests/build.sh; the first build takes ~20 min)"
	mkdir -p "$CACHE"
	# flock: two runs must not build the same kernels into the same cache at once
	if ! flock "$CACHE/.guests.lock" "$top/tests/guests/build.sh" $want \
			> "$WORK/guests.txt" 2> >(tee "$OUT/build-guests.log" >&2); then
		fail_all "guest build failed (log: ${OUT#"$top"/}/build-guests.log)"
	fi
	while read -r v dir; do
		img=Image
		[ -f "$dir/Image" ] || img=zImage
		[ -f "$dir/$img" ] && [ -f "$dir/initrd.cpio.gz" ] ||
			fail_all "guest $v: no Image/zImage or initrd.cpio.gz in $dir"
		payload+=("$dir/$img:$v/$img" "$dir/initrd.cpio.gz:$v/initrd.cpio.gz")
		# the bare test init and lkvm's 9p-root init, for jobs that build a root
		for f in init virt-init test.flat; do
			[ -f "$dir/$f" ] && payload+=("$dir/$f:$v/$f")
		done
	done < "$WORK/guests.txt"
	say "guests ready in $(elapsed "$t0") s"
fi
if [ -f "$WORK/parsed/data" ]; then
	while read -r spec; do payload+=("$spec"); done < "$WORK/parsed/data"
fi
# @make NAME COMMAND: made here on x86 (qemu-img and friends live here), in
# $GEN with $TOP = the repo, then packed as $DATA/NAME; host checks see $GEN
GEN=$WORK/gen
export GEN TOP=$top
if [ -f "$WORK/parsed/make" ]; then
	mkdir -p "$GEN"
	while IFS=$'\t' read -r mname mcmd; do
		if ! (cd "$GEN" && bash -c "$mcmd") > "$GEN/$mname.log" 2>&1 || [ ! -e "$GEN/$mname" ]; then
			cat "$GEN/$mname.log" >&2
			fail_all "@make $mname failed: $mcmd (log: ${GEN#"$top"/}/$mname.log)"
		fi
		payload+=("$GEN/$mname:$mname")
	done < "$WORK/parsed/make"
fi

# ------------------------------------------------------------ boot the host(s)
# One host boot per GIC kind: a GICv3 host's vGIC cannot do GICv2, so jobs
# marked gicv2 get a host of their own (booted only if there are any).
declare -A host_state   # gic -> why that host's unfinished jobs did not finish
for gic in 3 2; do
	group=()
	limit=0
	for i in "${!ids[@]}"; do
		[ "${gics[$i]}" = "$gic" ] || continue
		group+=("$i")
		limit=$((limit + tmos[i] + 5))
	done
	[ ${#group[@]} -gt 0 ] || continue
	jobs=$WORK/host-gicv$gic.jobs
	: > "$jobs"
	for i in "${group[@]}"; do
		echo "@job ${names[$i]} ${tmos[$i]}" >> "$jobs"
		for v in ${ARM_TIER_ENV:-}; do
			[ -n "${!v+set}" ] && printf "%s='%s'\n" "$v" "${!v}" >> "$jobs"
		done
		cat "$WORK/parsed/${ids[$i]}.sh" >> "$jobs"
	done
	initrd=$WORK/host-gicv$gic.cpio
	modules=
	[ -f "$WORK/parsed/modules" ] && modules=$(sort -u "$WORK/parsed/modules" | tr '\n' ' ')
	if ! LKVM_DYN=$lkvm_dyn HOST_MODULES="${HOST_MODULES:-}${HOST_MODULES:+ }$modules" "$here/mk-host-initrd.sh" \
			"$initrd" "$lkvm" "$jobs" "${payload[@]}" 2> "$WORK/mk-gicv$gic.log"; then
		cat "$WORK/mk-gicv$gic.log" >&2
		host_state[$gic]="packing the host initramfs failed: $(tail -n 1 "$WORK/mk-gicv$gic.log")"
		continue
	fi
	console=$OUT/console-gicv$gic.log
	htmo=${HOST_TIMEOUT:-$((limit + 120))}
	say "booting the GICv$gic host: ${#group[@]} jobs, limit ${htmo} s, console ${console#"$top"/}"
	t0=$(date +%s)
	# the console sends \r\n: strip \r so that lines compare as written;
	# line-buffered, so a run can be watched in the log as it goes
	HOST_GIC=$gic HOST_TIMEOUT=$htmo "$here/run-host.sh" "$initrd" 2>>"$WORK/run-host.log" |
		stdbuf -oL tr -d '\r' | if [ "${VERBOSE:-0}" = 1 ]; then tee "$console" >&2; else cat > "$console"; fi
	qrc=${PIPESTATUS[0]}
	say "GICv$gic host done in $(elapsed "$t0") s (qemu rc=$qrc)"
	# why jobs of this host that did not finish did not
	# the host's own printk lines carry timestamps; a guest's panic (printed
	# by lkvm) does not, and must not be taken for the host's
	if grep -qE '^\[ *[0-9]+\.[0-9]+\] Kernel panic' "$console" && ! grep -q '^=== HOST DONE' "$console"; then
		why="the host kernel panicked"
	elif [ "$qrc" = 124 ]; then
		why="the host ran out of time (HOST_TIMEOUT=${htmo}s)"
	elif ! grep -q '=== HOST UP' "$console"; then
		why="the host never reached /init (qemu rc=$qrc)"
	else
		why="the host stopped early (qemu rc=$qrc)"
	fi
	host_state[$gic]="$why; see ${console#"$top"/}"

	# Split the console into <job>/output.log (+ <job>/end = job rc) and the
	# files sent with host_file into <job>/.recv/NAME.{b64,md5,missing}.
	# Markers are looked for anywhere in a line: a guest's last line may lack
	# its newline, and the END marker then follows it on the same line.
	awk -v out="$OUT" '
		function closejob() {
			if (cur == "") return
			if (infile != "") close(rdir infile ".b64")
			close(out "/" cur "/output.log"); cur = ""; infile = ""
		}
		function emit(s) { if (cur != "") print s > (out "/" cur "/output.log") }
		{
			line = $0
			if (match(line, /=== JOB [A-Za-z0-9._-]+ BEGIN/)) {
				closejob()
				cur = substr(line, RSTART + 8, RLENGTH - 14)
				system("mkdir -p \"" out "/" cur "/.recv\"")
				print "" > (out "/" cur "/.recv/begun"); close(out "/" cur "/.recv/begun")
				next
			}
			if (match(line, /=== JOB [A-Za-z0-9._-]+ END rc=[0-9]+/)) {
				if (RSTART > 1) emit(substr(line, 1, RSTART - 1))
				m = substr(line, RSTART, RLENGTH); sub(/.* rc=/, "", m)
				if (cur != "") { print m > (out "/" cur "/.recv/end"); close(out "/" cur "/.recv/end") }
				closejob()
				next
			}
			if (cur == "") next
			if (infile != "") {
				if (line ~ "^HOST-FILE-END " infile " md5=") {
					m = line; sub(/.* md5=/, "", m)
					print m > (rdir infile ".md5"); close(rdir infile ".md5")
					close(rdir infile ".b64"); infile = ""
				} else print line > (rdir infile ".b64")
				next
			}
			if (line ~ /^HOST-FILE-BEGIN [A-Za-z0-9][A-Za-z0-9._-]*$/) {
				infile = substr(line, 17); rdir = out "/" cur "/.recv/"
				printf "" > (rdir infile ".b64")
				emit(line " (payload: " cur "/" infile ")")
				next
			}
			# likewise "LKVM-RC n" (job-lib run) after a guest line with no newline
			if (match(line, /LKVM-RC [0-9]+$/) && RSTART > 1) {
				emit(substr(line, 1, RSTART - 1))
				line = substr(line, RSTART)
			}
			if (line ~ /^HOST-FILE-MISSING [A-Za-z0-9][A-Za-z0-9._-]*$/) {
				f = out "/" cur "/.recv/" substr(line, 19) ".missing"
				print "" > f; close(f)
			}
			emit(line)
		}
	' "$console"
done

# ------------------------------------------------------------------- checking
# decode_files DIR: turns every complete .recv/NAME.b64 into DIR/NAME (md5 checked)
decode_files() {
	local d=$1 b name
	for b in "$d"/.recv/*.b64; do
		[ -f "$b" ] || continue
		name=$(basename "$b" .b64)
		case $name in output.log|host-cmd.log) echo "bad" > "$d/.recv/$name.bad"; continue ;; esac
		[ -f "$d/.recv/$name.md5" ] || continue
		if base64 -d < "$b" > "$d/$name" 2>/dev/null &&
			[ "$(md5sum < "$d/$name" | cut -d' ' -f1)" = "$(cat "$d/.recv/$name.md5")" ]; then
			: > "$d/.recv/$name.ok"
		else
			rm -f "$d/$name"
		fi
	done
}

# file_status DIR NAME: empty if DIR/NAME came back intact, else why not
file_status() {
	local r=$1/.recv/$2
	if [ -f "$r.ok" ]; then return 0
	elif [ -f "$r.missing" ]; then echo "the job had no file $2 to send"
	elif [ -f "$r.bad" ]; then echo "file name $2 is reserved"
	elif [ ! -f "$r.b64" ]; then echo "file $2 was not sent (no HOST-FILE-BEGIN $2)"
	elif [ ! -f "$r.md5" ]; then echo "file $2 was cut short (no HOST-FILE-END)"
	else echo "file $2 came back corrupted (md5 mismatch)"
	fi
}

# check_job INDEX: prints the reasons the job failed, one per line (none = pass)
check_job() {
	local i=$1 d=$OUT/${names[$1]} rc kind arg log n want got re res miss st k lkvm_rcs
	log=$d/output.log
	if [ ! -f "$d/.recv/begun" ]; then
		echo "did not run: ${host_state[${gics[$i]}]:-the host was not booted}"
		return
	fi
	[ -f "$log" ] || : > "$log"
	if [ ! -f "$d/.recv/end" ]; then
		echo "no END marker: ${host_state[${gics[$i]}]:-?}"
		return
	fi
	rc=$(cat "$d/.recv/end")
	case $rc in
	0) ;;
	124) echo "timeout"; return ;;
	125) echo "no /dev/kvm in the emulated host (job not run)"; return ;;
	*) echo "job script exited with status $rc" ;;
	esac
	decode_files "$d"
	mapfile -t lkvm_rcs < <(grep -aoE 'LKVM-RC [0-9]+$' "$log" | cut -d' ' -f2)
	k=0
	while IFS=$'\t' read -r kind arg; do
		case $kind in
		expect-rc)
			if [ $k -ge ${#lkvm_rcs[@]} ]; then
				echo "no LKVM-RC line for run #$((k + 1)) (expected $arg)"
			elif [ "${lkvm_rcs[$k]}" != "$arg" ]; then
				echo "lkvm exit status ${lkvm_rcs[$k]}, expected $arg$([ $k -gt 0 ] && echo " (run #$((k + 1)))")"
			fi
			k=$((k + 1)) ;;
		expect-line)
			grep -aqxF -e "$arg" "$log" || echo "no line \"$arg\"" ;;
		expect-grep)
			grep -aqE -e "$arg" "$log"
			st=$?
			[ $st = 0 ] || { [ $st = 1 ] && echo "no line matches /$arg/" || echo "bad regex /$arg/"; } ;;
		expect-no-grep)
			got=$(grep -aE -m1 -e "$arg" "$log")
			st=$?
			[ $st = 1 ] || { [ $st = 0 ] && echo "unexpected line matches /$arg/: $got" || echo "bad regex /$arg/"; } ;;
		expect-count)
			want=${arg%%[[:space:]]*}
			re=${arg#"$want"}
			re=${re#"${re%%[![:space:]]*}"}
			got=$(grep -acE -e "$re" "$log")
			[ "$got" = "$want" ] || echo "$got lines match /$re/, expected $want" ;;
		expect-file)
			st=$(file_status "$d" "$arg") || true
			[ -z "$st" ] || echo "$st" ;;
		expect-dtb)
			read -r -a res <<< "$arg"	# an array: no glob expansion of the EREs
			n=${res[0]}
			st=$(file_status "$d" "$n")
			if [ -n "$st" ]; then echo "$st"; continue; fi
			if ! command -v dtc >/dev/null; then echo "dtc not found (apt-get install device-tree-compiler)"; continue; fi
			if ! dtc -q -I dtb -O dts -o "$d/$n.dts" "$d/$n" 2> "$d/$n.dtc.log"; then
				echo "$n is not a valid DTB: $(head -n 1 "$d/$n.dtc.log")"
				continue
			fi
			miss=
			for re in "${res[@]:1}"; do
				grep -qE -e "$re" "$d/$n.dts" || miss="$miss $re"
			done
			[ -z "$miss" ] || echo "$n has no match for:$miss (see ${d#"$top"/}/$n.dts)" ;;
		expect-host-cmd)
			# cwd: the job's folder (its output.log and files); dt-num is on PATH
			(cd "$d" && PATH="$here/host-bin:$PATH" bash -c "$arg") >> "$d/host-cmd.log" 2>&1 </dev/null
			st=$?
			[ $st = 0 ] || echo "host command failed (status $st): $arg" ;;
		esac
	done < "$WORK/parsed/${ids[$i]}.expect"
	[ $k = 0 ] || [ ${#lkvm_rcs[@]} -le $k ] ||
		echo "${#lkvm_rcs[@]} LKVM-RC lines but only $k @expect-rc"
}

pass=0 fail=0
for i in "${!ids[@]}"; do
	name=${names[$i]}
	reasons=$(check_job "$i")
	if [ -z "$reasons" ]; then
		echo "PASS $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name: $(awk 'NR > 1 { printf "; " } { printf "%s", $0 }' <<< "$reasons")"
		if [ -s "$OUT/$name/output.log" ]; then
			tail -n 30 "$OUT/$name/output.log" | sed 's/^/    /'
		fi
		fail=$((fail + 1))
	fi
done
for c in "$OUT"/console-gicv*.log; do
	[ -f "$c" ] && echo "arm: console log: ${c#"$top"/}"
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]

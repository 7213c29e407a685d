#!/bin/sh
# tests/arm/mk-host-initrd.sh OUT.cpio LKVM JOBS [SRC[:DEST]]...
#
# Packs the initramfs of the emulated arm64 KVM host:
#   /init              host-init (next to this script): mounts, /dev/kvm check,
#                      runs the jobs, powers off
#   /bin/busybox       busybox-static:arm64 from the cache (setup.sh)
#   /bin/lkvm          LKVM, any static arm64 binary (checked with `file`)
#   /jobs/NNN.sh       one script per job of the JOBS file: job-lib.sh, the
#                      prelude, the job's body (+ NNN.name, NNN.timeout)
#   /data/DEST         each SRC (file or directory); DEST defaults to SRC's basename
#   /lib/modules/...   HOST_MODULES (if set) with their dependencies
#   /bin/lkvm-dyn      LKVM_DYN (if set): a dynamic arm64 lkvm (with libslirp),
#                      with the arm64 dynamic loader and every shared library
#                      it needs (DT_NEEDED, recursively) in /lib
#
# JOBS file (see tests/arm/README.md for the full syntax): lines before the
# first "@job" are a prelude put at the top of every job; "@job NAME [TIMEOUT]
# [FLAG...]" starts a job, whose body (busybox sh) runs to the next "@job".
# Other lines whose first word starts with "@" (expectations such as
# @expect-rc, checked on the x86 side by run.sh) are left out of the scripts,
# and the FLAGs are ignored here, so a jobs file can be packed as it is.
#
# Env: ARMHOST_CACHE (default ${LKVM_CACHE:-$HOME/.cache/lkvm}/armhost),
#      BUSYBOX (an arm64 busybox, default $ARMHOST_CACHE/busybox),
#      JOB_TIMEOUT (default limit, 120 s),
#      LKVM_DYN (a dynamic arm64 lkvm to pack as /bin/lkvm-dyn),
#      ARM64_LIB_DIRS (where its libraries are looked for; default: Debian's
#      arm64 multiarch folders, then the cross toolchain's),
#      HOST_MODULES ("tun bridge ...": modules of the host kernel package to
#      load before the jobs; needs the package extracted by setup.sh),
#      GZIP_INITRD=1 to gzip the result (default: plain cpio, which the emulated
#      kernel unpacks faster than it can gunzip).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${ARMHOST_CACHE:-${LKVM_CACHE:-$HOME/.cache/lkvm}/armhost}
BUSYBOX=${BUSYBOX:-$CACHE/busybox}
JOB_TIMEOUT=${JOB_TIMEOUT:-120}

die() { echo "mk-host-initrd: $*" >&2; exit 1; }
[ $# -ge 3 ] || die "usage: $0 OUT.cpio LKVM JOBS [SRC[:DEST]]..."
out=$1 lkvm=$2 jobs=$3
shift 3
[ -f "$BUSYBOX" ] || die "no arm64 busybox at $BUSYBOX (run tests/arm/setup.sh, or set BUSYBOX)"
[ -f "$lkvm" ] || die "no lkvm binary at $lkvm"
[ -f "$jobs" ] || die "no jobs file at $jobs"
if command -v file >/dev/null 2>&1; then
	desc=$(file -L "$lkvm")
	case $desc in
	*ELF*aarch64*) ;;
	*) die "$lkvm is not an arm64 ELF binary: ${desc#*: }" ;;
	esac
	case $desc in
	# the host has no libc: a dynamic lkvm fails with "not found"
	*dynamically\ linked*) echo "mk-host-initrd: warning: $lkvm is dynamically linked; the host has no libc" >&2 ;;
	esac
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT INT TERM
mkdir -p "$root/bin" "$root/jobs" "$root/data" "$root/dev" "$root/proc" "$root/sys" "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
cp "$here/host-init" "$root/init"
cp "$lkvm" "$root/bin/lkvm"
chmod 0755 "$root/init" "$root/bin/busybox" "$root/bin/lkvm"
# the kernel opens /dev/console before /init runs; creating the node needs root
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

# split the jobs file: job-lib + prelude + one script per job
awk -v dir="$root/jobs" -v deftmo="$JOB_TIMEOUT" -v lib="$here/job-lib.sh" '
	BEGIN { while ((getline l < lib) > 0) libtext = libtext l "\n"; close(lib) }
	function fname(n) { return dir "/" sprintf("%03d", n) }
	/^@job([ \t]|$)/ {
		if (n) close(fname(n) ".sh")
		n++
		name = $2; tmo = deftmo
		if ($3 ~ /^[0-9]+$/) tmo = $3
		if (name !~ /^[A-Za-z0-9._-]+$/) { print "bad job name: \"" name "\"" > "/dev/stderr"; bad = 1; exit 1 }
		if (name in seen) { print "duplicate job name: " name > "/dev/stderr"; bad = 1; exit 1 }
		seen[name] = 1
		f = fname(n)
		print name > (f ".name"); close(f ".name")
		print tmo > (f ".timeout"); close(f ".timeout")
		printf "#!/bin/sh\n%s# ---- prelude\n%s# ---- job %s\n", libtext, prelude, name > (f ".sh")
		next
	}
	/^[ \t]*@/ { next }	# x86-side directives (@expect-...): not shell
	!n { prelude = prelude $0 "\n"; next }
	{ print > (fname(n) ".sh") }
	END { if (!bad && !n) { print "no @job lines in jobs file" > "/dev/stderr"; exit 1 } }
' "$jobs" || die "cannot parse jobs file $jobs"
njobs=0
for f in "$root"/jobs/*.sh; do [ -f "$f" ] && njobs=$((njobs + 1)); done

# payload
for spec in "$@"; do
	case $spec in
	*:*) src=${spec%%:*} dst=${spec#*:} ;;
	*) src=$spec dst=$(basename "$spec") ;;
	esac
	[ -e "$src" ] || die "payload $src does not exist"
	case $dst in /*|*..*) die "payload destination must be relative and without ..: $dst" ;; esac
	mkdir -p "$root/data/$(dirname "$dst")"
	cp -RL "$src" "$root/data/$dst"
done

# lkvm-dyn: the binary, its loader (PT_INTERP) and its libraries, found in
# the arm64 library folders and put in /lib (where ld.so looks without a cache)
if [ -n "${LKVM_DYN:-}" ]; then
	[ -f "$LKVM_DYN" ] || die "no lkvm-dyn binary at $LKVM_DYN"
	READELF=$(command -v aarch64-linux-gnu-readelf || command -v readelf) ||
		die "LKVM_DYN needs readelf (binutils)"
	libdirs=${ARM64_LIB_DIRS:-/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/aarch64-linux-gnu/lib}
	cp "$LKVM_DYN" "$root/bin/lkvm-dyn"
	chmod 0755 "$root/bin/lkvm-dyn"
	mkdir -p "$root/lib"
	interp=$("$READELF" -l "$LKVM_DYN" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')
	[ -n "$interp" ] || die "$LKVM_DYN is not a dynamic binary (no PT_INTERP)"
	# find_lib NAME: the first libdirs match
	find_lib() {
		for d in $libdirs; do
			[ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
		done
		return 1
	}
	src=$(find_lib "$(basename "$interp")") || die "no arm64 dynamic loader $(basename "$interp") in $libdirs"
	mkdir -p "$root$(dirname "$interp")"
	cp -L "$src" "$root$interp"
	[ -e "$root/lib/$(basename "$interp")" ] || cp -L "$src" "$root/lib/$(basename "$interp")"
	todo=$LKVM_DYN done_libs=" "
	while [ -n "$todo" ]; do
		next=
		for f in $todo; do
			for lib in $("$READELF" -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
				case $done_libs in *" $lib "*) continue ;; esac
				done_libs="$done_libs$lib "
				src=$(find_lib "$lib") || die "lkvm-dyn needs $lib: not in $libdirs (apt-get install libslirp-dev:arm64)"
				cp -L "$src" "$root/lib/$lib"
				next="$next $src"
			done
		done
		todo=$next
	done
	echo "mk-host-initrd: lkvm-dyn with$done_libs(+ $(basename "$interp"))" >&2
fi

# host kernel modules, dependencies first (modules.dep from setup.sh's depmod)
if [ -n "${HOST_MODULES:-}" ]; then
	mdir=$(ls -d "$CACHE"/linux/lib/modules/* 2>/dev/null | head -n1)
	[ -n "$mdir" ] && [ -f "$mdir/modules.dep" ] || die "HOST_MODULES set but no modules.dep under $CACHE/linux (run tests/arm/setup.sh)"
	mkdir -p "$root/lib/modules"
	awk -v want="$HOST_MODULES" '
		function base(p,  b) { b = p; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); gsub(/-/, "_", b); return b }
		function visit(m,  i, n, d) {
			if (m in done) return
			done[m] = 1
			n = split(deps[m], d, " ")
			for (i = n; i >= 1; i--) visit(d[i])
			print m
		}
		{ mod = $1; sub(/:$/, "", mod); deps[mod] = ""; for (i = 2; i <= NF; i++) deps[mod] = deps[mod] " " $i; byname[base(mod)] = mod }
		END {
			n = split(want, w, " ")
			for (i = 1; i <= n; i++) {
				k = w[i]; gsub(/-/, "_", k)
				if (!(k in byname)) { print "unknown host module: " w[i] > "/dev/stderr"; exit 1 }
				visit(byname[k])
			}
		}' "$mdir/modules.dep" > "$root/lib/modules/order" || die "cannot resolve HOST_MODULES"
	while read -r ko; do
		mkdir -p "$root/lib/modules/$(dirname "$ko")"
		cp "$mdir/$ko" "$root/lib/modules/$ko"
	done < "$root/lib/modules/order"
fi

tmp=$out.tmp.$$
if [ "${GZIP_INITRD:-0}" = 1 ]; then
	(cd "$root" && find . | sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) > "$tmp"
else
	(cd "$root" && find . | sort | cpio -o -H newc --quiet -R 0:0) > "$tmp"
fi
mv "$tmp" "$out"
echo "mk-host-initrd: $out: $njobs jobs, $(du -k "$out" | cut -f1) KiB" >&2

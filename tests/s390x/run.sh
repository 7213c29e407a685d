#!/bin/bash
# tests/s390x/run.sh — the unit tests on a big-endian host: cross-built for
# s390x and run under qemu-user, the same assertions as on x86 (the virtqueue
# and virtio-mmio tests run every ring test with LE and with BE rings).
#
#   1. installs (apt, idempotent) gcc-s390x-linux-gnu libc6-dev-s390x-cross
#      qemu-user-static and the s390x package lists (the Makefile downloads
#      libfdt-dev, zlib1g-dev and libaio-dev for s390x and unpacks them under
#      build/deps: the multiarch -dev packages do not co-install on Debian 12)
#   2. takes qemu-s390x 10.x from bookworm-backports' qemu-user .deb, unpacked
#      under build/deps/qemu-user-bpo (nothing installed): Debian 12's
#      qemu-user-static 7.2 does not emulate openat2, which the 9p server needs;
#      without it the 9p tests print SKIP (never PASS)
#   3. make check CROSS_COMPILE=s390x-linux-gnu- O=build/s390x SLIRP=0
#   4. checks the binary is big-endian s390x and that the ring tests ran in both
#      byte orders
#
# Last line "N passed, N failed": the harness's (repeated after the checks), or
# with this script's failed checks added; exit non-zero on any failure. Tests that qemu-user cannot run
# (io_setup: Linux AIO, for the O_DIRECT disk tests) print "SKIP test: reason".
# No apt / not root: "SKIP s390x tier: reason", exit 0.
#
# Env: S390X_QEMU=PATH  use this qemu-s390x; S390X_NO_BPO=1  do not fetch
#      qemu from backports (use the system's qemu-s390x-static)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top" || exit 1
say() { echo "s390x: $*" >&2; }
skip() {
	echo "SKIP s390x tier: $*"
	exit 0
}
t_start=$(date +%s)

command -v apt-get >/dev/null || skip "no apt-get (needs Debian's cross toolchain and qemu-user)"
SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null && sudo -n true 2>/dev/null ||
		skip "not root and no password-less sudo (apt-get install is needed)"
	SUDO="sudo -n"
fi
APT="$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600"

# ------------------------------------------------------------- packages
updated=no
apt_update() {
	[ $updated = yes ] && return 0
	say "apt-get update"
	$APT update -qq || say "apt-get update reported errors; going on"
	updated=yes
}
if ! dpkg --print-foreign-architectures | grep -qx s390x; then
	say "dpkg --add-architecture s390x"
	$SUDO dpkg --add-architecture s390x || skip "dpkg --add-architecture s390x failed"
	apt_update
fi
# the Makefile's `apt-get download <pkg>:s390x` needs the s390x package lists
ls /var/lib/apt/lists/*_binary-s390x_Packages* >/dev/null 2>&1 || apt_update
PKGS="make gcc-s390x-linux-gnu libc6-dev-s390x-cross qemu-user-static qemu-utils"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt_update
	say "apt-get install$missing"
	$APT install -y -qq --no-install-recommends $missing >/dev/null ||
		skip "apt-get install$missing failed"
fi

# ------------------------------------------------------------- qemu-user
# openat2 is emulated from qemu 9.1 on: take qemu-s390x from bookworm-backports
# with a private apt state (the system's sources are left alone)
qemu_ok() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }
fetch_bpo_qemu() {
	local d=$top/build/deps/qemu-user-bpo a=$top/build/deps/apt-bpo deb
	local -a o
	qemu_ok "$d/usr/bin/qemu-s390x" && { echo "$d/usr/bin/qemu-s390x"; return 0; }
	rm -rf "$d" "$a" && mkdir -p "$d" "$a/lists/partial" "$a/cache/archives/partial" || return 1
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
		"http://deb.debian.org/debian bookworm-backports main" > "$a/sources.list"
	o=(-o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
	   -o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache" -o Debug::NoLocking=1
	   -o APT::Sandbox::User=root)
	say "fetching qemu-user from bookworm-backports (for qemu-s390x with openat2)"
	apt-get "${o[@]}" update -qq >/dev/null 2>&1 || return 1
	(cd "$a" && apt-get "${o[@]}" download -qq qemu-user/bookworm-backports >/dev/null 2>&1) ||
		return 1
	deb=$(ls "$a"/qemu-user_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || return 1
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$d" ./usr/bin/qemu-s390x || return 1
	rm -f "$deb"
	qemu_ok "$d/usr/bin/qemu-s390x" && echo "$d/usr/bin/qemu-s390x"
}
QEMU=${S390X_QEMU:-}
if [ -z "$QEMU" ] && [ "${S390X_NO_BPO:-0}" != 1 ]; then
	QEMU=$(fetch_bpo_qemu) || { QEMU=; say "no qemu from backports: the 9p tests will SKIP"; }
fi
[ -n "$QEMU" ] || QEMU=$(command -v qemu-s390x-static) || skip "no qemu-s390x-static"
qemu_ok "$QEMU" || skip "$QEMU does not run"
say "qemu: $QEMU ($("$QEMU" --version | head -n 1))"

# ------------------------------------------------------------- build and run
log=$top/build/s390x/unit.log
mkdir -p "$(dirname "$log")"
bin=$top/build/s390x/tests/unit/unit-tests
say "building (make CROSS_COMPILE=s390x-linux-gnu- O=build/s390x SLIRP=0)"
if ! make -s -j"$(nproc)" CROSS_COMPILE=s390x-linux-gnu- O=build/s390x SLIRP=0 \
	build/s390x/tests/unit/unit-tests > "$top/build/s390x/build.log" 2>&1; then
	tail -n 30 "$top/build/s390x/build.log"
	echo "FAIL s390x build: see build/s390x/build.log"
	echo "0 passed, 1 failed"
	exit 1
fi
t_run=$(date +%s)
make -s CROSS_COMPILE=s390x-linux-gnu- O=build/s390x SLIRP=0 QEMU_USER="$QEMU" check 2>&1 |
	grep -v '^make.*Error' | tee "$log"
rc=${PIPESTATUS[0]}
say "unit run: $(( $(date +%s) - t_run )) s under qemu-user (all: $(( $(date +%s) - t_start )) s)"

# ------------------------------------------------------------- sanity checks
# a run that was not big-endian, or rang one byte order only, proves nothing
extra_fail=0
check() {
	if eval "$2"; then
		say "ok: $1"
	else
		echo "FAIL s390x.$1"
		extra_fail=$((extra_fail + 1))
	fi
}
# ELF header: EI_CLASS 2 (64-bit), EI_DATA 2 (MSB), e_machine 22 (EM_S390, BE)
elf=$(od -An -tx1 -N20 "$bin" | tr -d ' \n')
check "binary_is_be_s390x" '[ "${elf:8:4}" = 0202 ] && [ "${elf:36:4}" = 0016 ]'
nle=$(grep -cE '^PASS virtqueue\..*_le$' "$log")
nbe=$(grep -cE '^PASS virtqueue\..*_be$' "$log")
check "rings_le_and_be ($nle LE, $nbe BE virtqueue tests passed)" \
	'[ "$nle" -ge 10 ] && [ "$nle" = "$nbe" ]'
nmm=$(grep -cE '^PASS virtio_mmio\.' "$log")
check "virtio_mmio_ran ($nmm passed)" '[ "$nmm" -ge 1 ]'

line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
if [ -z "$line" ]; then
	echo "FAIL s390x unit run: no summary line (exit status $rc)"
	echo "0 passed, $((1 + extra_fail)) failed"
	exit 1
fi
if [ "$extra_fail" != 0 ] || [ "$rc" != 0 ]; then
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed}
	[ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
	echo "$p passed, $((f + extra_fail)) failed"
	exit 1
fi
# the harness's summary once more, as the last line
echo "$line"
exit 0

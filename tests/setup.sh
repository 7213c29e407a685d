#!/bin/sh
# tests/setup.sh — installs everything the build and the tests need on Debian 12
# (x86_64 or arm64), then fetches the emulated arm64 host (tests/arm/setup.sh).
# Idempotent: when all is there it only checks (well under a second).
# Needs root, or sudo for the apt steps.
#
#   native build + unit tests: gcc libc6-dev make pkg-config libfdt-dev libaio-dev zlib1g-dev
#                              libslirp-dev libglib2.0-dev (user-mode networking)
#                              libseccomp-dev (the seccomp filter)
#                              device-tree-compiler qemu-utils (qemu-img/qemu-io: qcow2 tests)
#   static arm64 lkvm:         gcc-aarch64-linux-gnu libc6-dev-arm64-cross
#                              zlib1g-dev:arm64 libaio-dev:arm64 libseccomp-dev:arm64,
#                              and the arm64
#                              package lists so the Makefile can
#                              `apt-get download libfdt-dev:arm64` (not Multi-Arch)
#   dynamic arm64 lkvm-dyn:    libslirp-dev:arm64 (its libraries go into the test host)
#   test guests:               linux-source-6.1 gcc-arm-linux-gnueabihf bc bison
#                              flex libssl-dev libelf-dev cpio xz-utils patch
#   emulated arm64 host:       qemu-system-arm kmod file
#   fuzz tier:                 clang libclang-rt-14-dev (libFuzzer, ASan, UBSan)
#   instructions per request:  valgrind (callgrind)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "setup: $*" >&2; }

PKGS="gcc libc6-dev make pkg-config libfdt-dev libaio-dev zlib1g-dev device-tree-compiler qemu-utils
	libslirp-dev libglib2.0-dev libseccomp-dev
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross zlib1g-dev:arm64 libaio-dev:arm64 libslirp-dev:arm64
	libseccomp-dev:arm64
	linux-source-6.1 gcc-arm-linux-gnueabihf bc bison flex libssl-dev libelf-dev
	cpio xz-utils patch
	qemu-system-arm kmod file
	clang libclang-rt-14-dev valgrind"

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { say "not root and no sudo: run me as root"; exit 1; }
	# no stdin (CI): sudo must fail rather than wait for a password
	if [ -t 0 ]; then SUDO=sudo; else SUDO="sudo -n"; fi
fi
export DEBIAN_FRONTEND=noninteractive
APT="$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600"

updated=no
apt_update() {
	[ $updated = yes ] && return 0
	say "apt-get update"
	$APT update -qq || say "apt-get update reported errors; going on"
	updated=yes
}

# arm64 packages come from the same archive: add the architecture once
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	say "dpkg --add-architecture arm64"
	$SUDO dpkg --add-architecture arm64
	apt_update
fi
# without arm64 package lists `apt-get download libfdt-dev:arm64` finds nothing
ls /var/lib/apt/lists/*_binary-arm64_Packages* >/dev/null 2>&1 || apt_update

# what is missing: one dpkg-query for all (a name without ":arch" is the native one)
native=$(dpkg --print-architecture)
installed=$(dpkg-query -W -f='${binary:Package} ${Status}\n' 2>/dev/null |
	awk '$3 == "ok" && $4 == "installed" { print $1 }')
missing=
for p in $PKGS; do
	case $p in *:*) alt=$p ;; *) alt=$p:$native ;; esac
	printf '%s\n' "$installed" | grep -qxF -e "$p" -e "$alt" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt_update
	say "installing$missing"
	# --no-install-recommends: qemu and gcc recommend hundreds of MB we do not use
	$APT install -y -qq --no-install-recommends $missing >&2 || {
		# stale package lists (a point release removed the old .debs): refresh once
		updated=no
		apt_update
		$APT install -y -qq --no-install-recommends $missing >&2
	}
fi

# the emulated arm64 KVM host: Debian's arm64 kernel + busybox, into the cache
"$here/arm/setup.sh"

#!/bin/sh
# tests/arm/setup.sh — fetches what the emulated arm64 KVM host needs.
# Idempotent: when everything is in the cache it only checks (about 0.1 s).
# Needs root (or sudo) only when something must be installed.
#
#   apt:   qemu-system-arm (qemu-system-aarch64), cpio, kmod, file
#   arm64: dpkg --add-architecture arm64, then from Debian's archive
#          linux-image-6.1.*-arm64 (what linux-image-arm64:arm64 points at) and
#          busybox-static:arm64, unpacked from their .debs: nothing arm64 is
#          installed by this script.
#
# Results in $ARMHOST_CACHE (default ${LKVM_CACHE:-$HOME/.cache/lkvm}/armhost):
#   Image      the host kernel (uncompressed arm64 Image, CONFIG_KVM=y)
#   busybox    static arm64 busybox for the host initramfs
#   linux/     the unpacked kernel package (lib/modules with modules.dep)
#   debs/      the downloaded .debs
#   versions   what was fetched
# Env: ARMHOST_CACHE, LKVM_CACHE; ARMHOST_DEB_DIRS="DIR..." extra folders
#      searched for already-downloaded .debs before asking the archive.
set -eu
CACHE=${ARMHOST_CACHE:-${LKVM_CACHE:-$HOME/.cache/lkvm}/armhost}
say() { echo "arm-setup: $*" >&2; }

SUDO='' APT_DL_OPTS=''
[ "$(id -u)" = 0 ] && APT_DL_OPTS="-o APT::Sandbox::User=root"
if [ "$(id -u)" != 0 ]; then
	# no stdin (CI): sudo must not wait for a password prompt nobody answers
	if [ -t 0 ]; then SUDO=sudo; else SUDO="sudo -n"; fi
fi

# ---- host packages (amd64); the full list is in tests/setup.sh
missing=
for p in qemu-system-arm cpio kmod file; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
updated=no
apt_update() {
	[ $updated = yes ] && return 0
	say "apt-get update"
	$SUDO apt-get update -qq -o DPkg::Lock::Timeout=600 || say "apt-get update reported errors; going on"
	updated=yes
}
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	say "dpkg --add-architecture arm64"
	$SUDO dpkg --add-architecture arm64
	apt_update
fi
if [ -n "$missing" ]; then
	apt_update
	say "installing$missing"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-o DPkg::Lock::Timeout=600 $missing >&2
fi

mkdir -p "$CACHE/debs"

# fetch_deb PKG:ARCH -> prints the path of its .deb (cache, ARMHOST_DEB_DIRS, then archive)
fetch_deb() {
	name=${1%%:*} arch=${1#*:}
	for d in "$CACHE/debs" ${ARMHOST_DEB_DIRS:-}; do
		f=$(ls -1 "$d/${name}_"*"_$arch.deb" 2>/dev/null | sort -V | tail -n1 || true)
		if [ -n "$f" ]; then
			[ "$d" = "$CACHE/debs" ] || cp "$f" "$CACHE/debs/"
			echo "$CACHE/debs/$(basename "$f")"
			return 0
		fi
	done
	say "apt-get download $1"
	# as root, apt drops to the _apt user, who cannot write to $HOME: it warns
	# and downloads as root anyway; say so up front to keep the log quiet
	(cd "$CACHE/debs" && apt-get download -qq $APT_DL_OPTS "$1" >&2) || {
		apt_update
		(cd "$CACHE/debs" && apt-get download -qq $APT_DL_OPTS "$1" >&2)
	}
	ls -1 "$CACHE/debs/${name}_"*"_$arch.deb" | sort -V | tail -n1
}

kernel_pkg() {
	apt-cache depends linux-image-arm64:arm64 2>/dev/null |
		awk '/Depends: linux-image-6\.1\./ { sub(/:arm64$/, "", $2); print $2; exit }'
}

# ---- host kernel: Debian's arm64 6.1 kernel (has CONFIG_KVM=y and boots at EL2)
if [ ! -s "$CACHE/Image" ] || [ ! -d "$CACHE/linux/lib/modules" ]; then
	kpkg=$(kernel_pkg)
	if [ -z "$kpkg" ]; then
		apt_update
		kpkg=$(kernel_pkg)
	fi
	# offline: any linux-image-6.1.*-arm64 .deb already at hand
	[ -n "$kpkg" ] || kpkg=$(ls -1 "$CACHE/debs" ${ARMHOST_DEB_DIRS:-} 2>/dev/null |
		sed -n 's/^\(linux-image-6\.1\.[0-9]*-arm64\)_.*_arm64\.deb$/\1/p' | sort -V | tail -n1)
	[ -n "$kpkg" ] || { say "cannot find linux-image-6.1.*-arm64 (is the arm64 archive reachable?)"; exit 1; }
	deb=$(fetch_deb "$kpkg:arm64")
	say "unpacking $(basename "$deb")"
	rm -rf "$CACHE/linux.tmp"
	dpkg-deb -x "$deb" "$CACHE/linux.tmp"
	kver=$(ls "$CACHE/linux.tmp/lib/modules" | head -n1)
	/sbin/depmod -b "$CACHE/linux.tmp" "$kver"
	img=$CACHE/linux.tmp/boot/vmlinuz-$kver
	# Debian's arm64 vmlinuz is a plain Image; other builds may be gzipped
	if [ "$(od -An -tx1 -N2 "$img" | tr -d ' ')" = 1f8b ]; then
		gzip -dc "$img" > "$CACHE/Image.tmp"
	else
		cp "$img" "$CACHE/Image.tmp"
	fi
	rm -rf "$CACHE/linux"
	mv "$CACHE/linux.tmp" "$CACHE/linux"
	mv "$CACHE/Image.tmp" "$CACHE/Image"
	echo "host-kernel $(basename "$deb")" > "$CACHE/versions.kernel"
fi

# ---- busybox-static:arm64 (the host's whole userland)
if [ ! -s "$CACHE/busybox" ]; then
	deb=$(fetch_deb busybox-static:arm64)
	rm -rf "$CACHE/bb.tmp"
	dpkg-deb -x "$deb" "$CACHE/bb.tmp"
	cp "$CACHE/bb.tmp/bin/busybox" "$CACHE/busybox.tmp"
	chmod 0755 "$CACHE/busybox.tmp"
	mv "$CACHE/busybox.tmp" "$CACHE/busybox"
	rm -rf "$CACHE/bb.tmp"
	echo "busybox $(basename "$deb")" > "$CACHE/versions.busybox"
fi

cat "$CACHE"/versions.* > "$CACHE/versions"
# without CONFIG_KVM=y built in there is no /dev/kvm in the host
grep -q '^CONFIG_KVM=y' "$CACHE"/linux/boot/config-* || { say "host kernel lacks CONFIG_KVM=y"; exit 1; }
command -v qemu-system-aarch64 >/dev/null || { say "qemu-system-aarch64 is missing"; exit 1; }
say "ready in $CACHE: $(tr '\n' ' ' < "$CACHE/versions")"

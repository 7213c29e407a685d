#!/bin/sh
# tests/kut/setup.sh — what the kvm-unit-tests tier needs besides a KUT tree:
# the emulated arm64 KVM host (tests/arm/setup.sh: qemu, Debian's arm64
# kernel, busybox) and bash for it, since kvm-unit-tests' run_tests.sh is a
# bash script and the host's userland is busybox: Debian's bash-static:arm64,
# unpacked from its .deb (nothing arm64 is installed).
# Idempotent: about 0.1 s when everything is in the cache.
#
# Result: $KUT_CACHE/bash (default ${LKVM_CACHE:-$HOME/.cache/lkvm}/kut), the
# .deb in $KUT_CACHE/debs, its name in $KUT_CACHE/versions.
# Env: KUT_CACHE, LKVM_CACHE, ARMHOST_CACHE (tests/arm/setup.sh),
#      KUT_DEB_DIRS="DIR..." folders searched for a bash-static_*_arm64.deb
#      before asking the archive.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${KUT_CACHE:-${LKVM_CACHE:-$HOME/.cache/lkvm}/kut}
say() { echo "kut-setup: $*" >&2; }

"$here/../arm/setup.sh"

if [ ! -s "$CACHE/bash" ]; then
	mkdir -p "$CACHE/debs"
	deb=
	for d in "$CACHE/debs" ${KUT_DEB_DIRS:-}; do
		f=$(ls -1 "$d"/bash-static_*_arm64.deb 2>/dev/null | sort -V | tail -n1 || true)
		if [ -n "$f" ]; then
			[ "$d" = "$CACHE/debs" ] || cp "$f" "$CACHE/debs/"
			deb=$CACHE/debs/$(basename "$f")
			break
		fi
	done
	if [ -z "$deb" ]; then
		opts=
		[ "$(id -u)" = 0 ] && opts="-o APT::Sandbox::User=root"
		say "apt-get download bash-static:arm64"
		if ! (cd "$CACHE/debs" && apt-get download -qq $opts bash-static:arm64 >&2); then
			SUDO=
			[ "$(id -u)" = 0 ] || SUDO="sudo -n"
			say "apt-get update"
			$SUDO apt-get update -qq -o DPkg::Lock::Timeout=600 || say "apt-get update reported errors; going on"
			(cd "$CACHE/debs" && apt-get download -qq $opts bash-static:arm64 >&2)
		fi
		deb=$(ls -1 "$CACHE"/debs/bash-static_*_arm64.deb | sort -V | tail -n1)
	fi
	rm -rf "$CACHE/bash.tmp"
	dpkg-deb -x "$deb" "$CACHE/bash.tmp"
	[ -f "$CACHE/bash.tmp/bin/bash-static" ] || { say "no bin/bash-static in $deb"; exit 1; }
	cp "$CACHE/bash.tmp/bin/bash-static" "$CACHE/bash.new"
	chmod 0755 "$CACHE/bash.new"
	mv "$CACHE/bash.new" "$CACHE/bash"
	rm -rf "$CACHE/bash.tmp"
	echo "bash $(basename "$deb")" > "$CACHE/versions"
fi
say "ready in $CACHE: $(cat "$CACHE/versions")"

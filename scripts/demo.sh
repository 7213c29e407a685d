#!/bin/bash
# scripts/demo.sh [VARIANT] — sets up and boots the default guest once.
#
# Installs what is needed (tests/setup.sh), builds the static arm64 lkvm and
# the test guest VARIANT (arm64-be by default; arm64-le arm-be arm-le), and
# boots it with
#     lkvm run -k .../Image -i .../initrd.cpio.gz -p 'console=ttyS0 earlycon quiet'
# natively when this machine is arm64 with /dev/kvm, otherwise inside the
# emulated arm64 KVM host (QEMU TCG, tests/arm/), with the console streamed
# to the terminal.  Exits with lkvm's exit status (0: the guest powered off).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
variant=${1:-arm64-be}
CMDLINE='console=ttyS0 earlycon quiet'
say() { echo "demo: $*" >&2; }

case $variant in
arm64-be|arm64-le) image=Image aarch32= ;;
arm-be|arm-le) image=zImage aarch32=--aarch32 ;;
*) say "unknown guest '$variant' (want arm64-be arm64-le arm-be arm-le)"; exit 1 ;;
esac

say "setting up (tests/setup.sh)"
tests/setup.sh

native=no
[ "$(uname -m)" = aarch64 ] && [ -c /dev/kvm ] && native=yes

# native arm64 builds the plain way; elsewhere cross-build it static for the
# emulated host, which has no libc
if [ $native = yes ]; then
	say "building lkvm (make STATIC=1 O=build/arm64)"
	make -j"$(nproc)" STATIC=1 O=build/arm64
else
	say "building lkvm (make CROSS_COMPILE=aarch64-linux-gnu- STATIC=1 O=build/arm64)"
	make -j"$(nproc)" CROSS_COMPILE=aarch64-linux-gnu- STATIC=1 O=build/arm64
fi
lkvm=$top/build/arm64/lkvm

say "building the $variant guest (tests/guests/build.sh; the first build takes minutes)"
mkdir -p "${LKVM_CACHE:-$HOME/.cache/lkvm}"
guest=$(flock "${LKVM_CACHE:-$HOME/.cache/lkvm}/.guests.lock" tests/guests/build.sh "$variant" | awk '{ print $2 }')

if [ $native = yes ]; then
	say "booting natively: lkvm run $aarch32 -k $guest/$image -i $guest/initrd.cpio.gz"
	set +e
	"$lkvm" run $aarch32 -k "$guest/$image" -i "$guest/initrd.cpio.gz" -p "$CMDLINE"
	rc=$?
	say "lkvm exited with status $rc"
	exit $rc
fi

# one job in the emulated host; `run` prints "LKVM-RC <status>" after lkvm
out=$top/build/demo
mkdir -p "$out"
cat > "$out/demo.jobs" <<EOF
@job demo-$variant 300
run lkvm run $aarch32 -k \$DATA/$variant/$image -i \$DATA/$variant/initrd.cpio.gz -p '$CMDLINE'
EOF
tests/arm/mk-host-initrd.sh "$out/host.cpio" "$lkvm" "$out/demo.jobs" \
	"$guest/$image:$variant/$image" "$guest/initrd.cpio.gz:$variant/initrd.cpio.gz"
say "booting the emulated arm64 KVM host (no arm64 KVM here); console log $out/console.log"
set +e
# the console sends \r\n; strip \r for the log, show it as it comes
HOST_TIMEOUT=420 tests/arm/run-host.sh "$out/host.cpio" | tr -d '\r' | tee "$out/console.log"
set -e
rc=$(sed -n 's/.*LKVM-RC \([0-9][0-9]*\)$/\1/p' "$out/console.log" | tail -n 1)
if [ -z "$rc" ]; then
	say "lkvm did not finish in the emulated host (see $out/console.log)"
	exit 1
fi
say "lkvm exited with status $rc"
exit "$rc"

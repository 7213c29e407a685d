#!/bin/sh
# tests/arm/run-host.sh INITRD [EXTRA_QEMU_ARGS...]
#
# Boots the emulated arm64 KVM host (QEMU TCG, EL2 enabled) with INITRD from
# mk-host-initrd.sh and prints its serial console on stdout (raw: lines end in
# \r\n).  A summary line ("run-host: qemu rc=N wall=S s") goes to stderr.
# Exit status: qemu's, or 124 when HOST_TIMEOUT ran out (qemu is killed).
#
# Env (defaults in brackets):
#   ARMHOST_CACHE  [${LKVM_CACHE:-$HOME/.cache/lkvm}/armhost]  where setup.sh put things
#   HOST_KERNEL    [$ARMHOST_CACHE/Image]  Debian's arm64 kernel
#   HOST_TIMEOUT   [600]   wall-clock seconds for the whole boot
#   HOST_GIC       [3]     3, or 2 for a GICv2 host (in-kernel vGIC v2, for
#                          `lkvm run --irqchip gicv2`); a GICv3 host has no
#                          GICv2-compatible region, so its vGIC is v3 only
#   HOST_CPU       [max,pauth-impdef=on]  pauth-impdef: QARMA5 pauth emulation
#                          makes the host and guests about 3x slower
#   HOST_SMP [2]  HOST_MEM [2048] (MiB)
#   HOST_APPEND    [console=ttyAMA0 rdinit=/init quiet panic=-1]  panic=-1 with
#                  -no-reboot: a host panic ends qemu at once, not at HOST_TIMEOUT
#   HOST_SCRATCH   []      a raw image file given to the host as a virtio-blk
#                  disk (virtio-mmio: /dev/vda there once the job file loads
#                  @host-modules virtio_mmio virtio_blk), for jobs that bring
#                  more back than the console can carry (tests/crash)
set -u
CACHE=${ARMHOST_CACHE:-${LKVM_CACHE:-$HOME/.cache/lkvm}/armhost}
HOST_KERNEL=${HOST_KERNEL:-$CACHE/Image}
HOST_TIMEOUT=${HOST_TIMEOUT:-600}
HOST_GIC=${HOST_GIC:-3}
HOST_CPU=${HOST_CPU:-max,pauth-impdef=on}
HOST_SMP=${HOST_SMP:-2}
HOST_MEM=${HOST_MEM:-2048}
HOST_APPEND=${HOST_APPEND:-console=ttyAMA0 rdinit=/init quiet panic=-1}

[ $# -ge 1 ] || { echo "usage: $0 INITRD [EXTRA_QEMU_ARGS...]" >&2; exit 2; }
initrd=$1
shift
case $HOST_GIC in 2|3) ;; *) echo "run-host: HOST_GIC must be 2 or 3, not '$HOST_GIC'" >&2; exit 2 ;; esac
[ -f "$initrd" ] || { echo "run-host: no initrd $initrd" >&2; exit 2; }
if [ -n "${HOST_SCRATCH:-}" ]; then
	[ -f "$HOST_SCRATCH" ] || { echo "run-host: no scratch image $HOST_SCRATCH" >&2; exit 2; }
	case $HOST_SCRATCH in *,*) echo "run-host: HOST_SCRATCH must not contain a comma" >&2; exit 2 ;; esac
	set -- -drive "if=none,id=scratch,format=raw,file=$HOST_SCRATCH" -device virtio-blk-device,drive=scratch "$@"
fi
[ -f "$HOST_KERNEL" ] || { echo "run-host: no host kernel $HOST_KERNEL (run tests/arm/setup.sh)" >&2; exit 2; }
command -v qemu-system-aarch64 >/dev/null || { echo "run-host: qemu-system-aarch64 missing (run tests/setup.sh)" >&2; exit 2; }

t0=$(date +%s.%N)
# --foreground: qemu stays in the caller's process group, so a caller that is
# itself killed (or timed out) takes qemu down with it.
# -nic none: no default NIC; -no-reboot: a host panic ends the run.
timeout --foreground -k 5 "$HOST_TIMEOUT" \
	qemu-system-aarch64 \
	-M virt,virtualization=on,gic-version="$HOST_GIC" \
	-cpu "$HOST_CPU" -smp "$HOST_SMP" -m "$HOST_MEM" \
	-accel tcg,thread=multi \
	-nographic -nic none -no-reboot \
	-kernel "$HOST_KERNEL" -initrd "$initrd" -append "$HOST_APPEND" \
	"$@" </dev/null
rc=$?
t1=$(date +%s.%N)
[ $rc -eq 137 ] && rc=124
echo "run-host: qemu rc=$rc wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s" >&2
exit $rc

#!/bin/bash
# tests/guests/build.sh [VARIANT...]
#
# Builds the small test guests (kernel + libc-free test init + initramfs) from
# Debian's linux-source-6.1 with our patches (guest/linux/*.patch). Kernels and
# inits are cached apart, each by a hash of what goes into it, so editing the
# init never rebuilds a kernel and only the first run pays for the kernels
# (3-5 min each on 2 cores). VARIANT: arm64-be arm64-le arm-be arm-le
# (default: all four).
#
# Prints one line per variant on stdout:  <variant> <directory>
# where the directory holds Image|zImage, config, init (the tagged test init),
# initrd.cpio.gz (holding it as /init), virt-init (guest/init, for 9p roots)
# and test.flat (a headerless binary like kvm-unit-tests', flat/).
#
# Env: LKVM_CACHE     cache root (default ~/.cache/lkvm)
#      JOBS           make -j (default: nproc)
#      LINUX_TARBALL  default /usr/src/linux-source-6.1.tar.xz
# Needs: linux-source-6.1 gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf bc
#        bison flex libssl-dev libelf-dev cpio make gcc (tests/setup.sh installs them)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CACHE=${LKVM_CACHE:-$HOME/.cache/lkvm}
JOBS=${JOBS:-$(nproc)}
LINUX_TARBALL=${LINUX_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
variants=${*:-arm64-be arm64-le arm-be arm-le}
# Bump when the kernel recipe below changes in a way the hashes cannot see.
KERNEL_RECIPE=1
say() { echo "guests: $*" >&2; }

[ -r "$LINUX_TARBALL" ] || { say "no kernel source $LINUX_TARBALL (apt-get install linux-source-6.1)"; exit 1; }

variant_params() {
	case $1 in
	arm64-be) ARCH=arm64 CROSS=aarch64-linux-gnu-   IMAGE=Image  FRAGS="common arm64 be" ;;
	arm64-le) ARCH=arm64 CROSS=aarch64-linux-gnu-   IMAGE=Image  FRAGS="common arm64 le" ;;
	arm-be)   ARCH=arm   CROSS=arm-linux-gnueabihf- IMAGE=zImage FRAGS="common arm be arm-be8" ;;
	arm-le)   ARCH=arm   CROSS=arm-linux-gnueabihf- IMAGE=zImage FRAGS="common arm le" ;;
	*) say "unknown variant '$1' (want arm64-be arm64-le arm-be arm-le)"; return 1 ;;
	esac
}

# The source tree: the tarball plus our patches.
patches=$(ls -1 "$top"/guest/linux/*.patch 2>/dev/null | sort || true)
src_id=$( { stat -c '%s %Y' "$LINUX_TARBALL"; for p in $patches; do sha256sum < "$p"; done; } |
	sha256sum | cut -c1-12)
src=$CACHE/src/linux-$src_id
if [ ! -f "$src/.lkvm-ready" ]; then
	say "extracting $(basename "$LINUX_TARBALL") into $src"
	rm -rf "$src"
	mkdir -p "$src"
	tar -C "$src" --strip-components=1 -xf "$LINUX_TARBALL"
	for p in $patches; do
		say "applying $(basename "$p")"
		patch -d "$src" -p1 -s < "$p"
	done
	touch "$src/.lkvm-ready"
fi

# gen_init_cpio writes /dev/console into the cpio without root
gic=$CACHE/tools/gen_init_cpio-$src_id
if [ ! -x "$gic" ]; then
	mkdir -p "$CACHE/tools"
	cc -O2 -o "$gic.tmp" "$src/usr/gen_init_cpio.c"
	mv "$gic.tmp" "$gic"
fi

init_flags() { # variant -> cc ld cflags ldflags
	case $1 in
	arm64-be) echo "aarch64-linux-gnu-gcc aarch64-linux-gnu-ld -mbig-endian -EB" ;;
	arm64-le) echo "aarch64-linux-gnu-gcc aarch64-linux-gnu-ld -mlittle-endian -EL" ;;
	arm-be) echo "arm-linux-gnueabihf-gcc arm-linux-gnueabihf-ld -mbig-endian,-marm,-march=armv7-a,-mfloat-abi=soft -EB,--be8" ;;
	arm-le) echo "arm-linux-gnueabihf-gcc arm-linux-gnueabihf-ld -mlittle-endian,-marm,-march=armv7-a,-mfloat-abi=soft -EL" ;;
	esac
}

build_init() { # variant outdir
	local v=$1 d=$2 cc ld cf lf
	read -r cc ld cf lf <<< "$(init_flags "$v")"
	$cc -Os -Wall -Wextra -Werror -ffreestanding -fno-builtin -fno-stack-protector \
		-fno-pie -fno-pic -fno-asynchronous-unwind-tables -fno-unwind-tables \
		-fno-tree-loop-distribute-patterns -nostdlib -static ${cf//,/ } \
		-I"$top/guest/include" -c -o "$d/init.o" "$here/init/init.c"
	$ld ${lf//,/ } -static -nostdlib -e _start --build-id=none -z noexecstack -o "$d/init" "$d/init.o"
	rm -f "$d/init.o"
	# mtime 0 and gen_init_cpio -t 0: the cpio is byte-for-byte reproducible
	cp "$d/init" "$d/init.cpio-copy"
	touch -d @0 "$d/init.cpio-copy"
	printf '%s\n' 'dir /dev 0755 0 0' 'nod /dev/console 0600 0 0 c 5 1' \
		'dir /proc 0755 0 0' 'dir /mnt 0755 0 0' \
		"file /init $d/init.cpio-copy 0755 0 0" > "$d/initramfs.list"
	"$gic" -t 0 "$d/initramfs.list" | gzip -9 -n > "$d/initrd.cpio.gz"
	rm -f "$d/init.cpio-copy" "$d/initramfs.list"
	# lkvm's init for 9p-root guests (guest/init), as DIR/virt/init
	mkdir -p "$d/virt"
	make -s -C "$top/guest/init" VARIANT="$v" OUT="$d/virt" >&2
	mv "$d/virt/init" "$d/virt-init"
	rmdir "$d/virt"
	# a headerless flat binary, like kvm-unit-tests' (lkvm run -k test.flat)
	case $v in
	arm64-*) "${cc%gcc}gcc" -nostdlib -static -Wl,-Ttext=0 -Wl,--build-id=none \
			-o "$d/flat.elf" "$here/flat/hello-arm64.S" ;;
	arm-*) "${cc%gcc}gcc" -nostdlib -static -marm -Wl,-Ttext=0 -Wl,--build-id=none \
			-o "$d/flat.elf" "$here/flat/hello-arm.S" ;;
	esac
	"${cc%gcc}objcopy" -O binary "$d/flat.elf" "$d/test.flat"
	rm -f "$d/flat.elf"
}

build_kernel() { # variant outdir
	local v=$1 out=$2 obj=$CACHE/obj/$1-$src_id log frags="" f t0
	mkdir -p "$obj"
	log=$out/build.log
	for f in $FRAGS; do frags="$frags $here/configs/$f.config"; done
	say "[$v] building $IMAGE (make -j$JOBS, log $log)"
	t0=$(date +%s)
	export ARCH CROSS_COMPILE=$CROSS
	(cd "$src" && ./scripts/kconfig/merge_config.sh -n -O "$obj" $frags) >"$log" 2>&1
	make -C "$src" O="$obj" olddefconfig >>"$log" 2>&1
	"$here/check-config.sh" "$obj/.config" $frags >>"$log" ||
		{ tail -n 20 "$log" >&2; say "[$v] config check failed"; return 1; }
	if ! nice make -C "$src" O="$obj" -j"$JOBS" "$IMAGE" >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		say "[$v] kernel build failed"
		return 1
	fi
	cp "$obj/arch/$ARCH/boot/$IMAGE" "$out/$IMAGE"
	cp "$obj/.config" "$out/config"
	echo "variant=$v build_seconds=$(($(date +%s) - t0)) jobs=$JOBS" > "$out/build-time.txt"
	say "[$v] kernel done in $(($(date +%s) - t0)) s"
}

for v in $variants; do
	variant_params "$v"
	kid=$( {
		echo "$src_id $v $KERNEL_RECIPE"
		declare -f build_kernel variant_params
		cat "$here/check-config.sh"
		for f in $FRAGS; do cat "$here/configs/$f.config"; done
		${CROSS}gcc --version | head -n1
	} | sha256sum | cut -c1-12)
	iid=$( {
		echo "$v"
		init_flags "$v"
		cat "$here/init/init.c" "$top/guest/include/gsys.h" "$top/guest/init/init.c" \
			"$top/guest/init/Makefile" "$here"/flat/*.S
		declare -f build_init
		${CROSS}gcc --version | head -n1
	} | sha256sum | cut -c1-12)
	kdir=$CACHE/kernels/$v-$kid
	idir=$CACHE/inits/$v-$iid
	out=$CACHE/guests/$v-$kid-$iid
	if [ ! -f "$kdir/.done" ]; then
		rm -rf "$kdir.tmp"
		mkdir -p "$kdir.tmp"
		build_kernel "$v" "$kdir.tmp"
		touch "$kdir.tmp/.done"
		rm -rf "$kdir"
		mv "$kdir.tmp" "$kdir"
	fi
	if [ ! -f "$idir/.done" ]; then
		rm -rf "$idir.tmp"
		mkdir -p "$idir.tmp"
		build_init "$v" "$idir.tmp"
		touch "$idir.tmp/.done"
		rm -rf "$idir"
		mv "$idir.tmp" "$idir"
	fi
	if [ ! -f "$out/.done" ]; then
		rm -rf "$out.tmp"
		mkdir -p "$out.tmp"
		cp "$kdir/$IMAGE" "$kdir/config" "$idir/init" "$idir/initrd.cpio.gz" "$idir/virt-init" \
			"$idir/test.flat" "$out.tmp/"
		touch "$out.tmp/.done"
		rm -rf "$out"
		mv "$out.tmp" "$out"
	fi
	echo "$v $out"
done

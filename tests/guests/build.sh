#!/bin/bash
# tests/guests/build.sh [VARIANT...]
#
# Builds the small test guests (kernel + libc-free test init + initramfs) from
# Debian's linux-source-6.1 and caches them by a hash of everything that goes
# into them, so only the first run pays for the kernel builds (4-6 min each on
# 2 cores). VARIANT: arm64-be arm64-le arm-be arm-le (default: all four).
#
# Prints one line per variant on stdout:  <variant> <directory>
# where the directory holds Image|zImage, initrd.cpio.gz, init, config.
#
# Env: LKVM_CACHE  cache root (default ~/.cache/lkvm)
#      JOBS        make -j (default: nproc)
#      LINUX_TARBALL  default /usr/src/linux-source-6.1.tar.xz
# Needs: linux-source-6.1 gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf bc
#        bison flex libssl-dev libelf-dev cpio make gcc (tests/setup.sh installs them)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${LKVM_CACHE:-$HOME/.cache/lkvm}
JOBS=${JOBS:-$(nproc)}
LINUX_TARBALL=${LINUX_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
variants=${*:-arm64-be arm64-le arm-be arm-le}
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

# The source tree: the tarball plus our patches (guest/linux/*.patch).
patches=$(ls -1 "$here"/../../guest/linux/*.patch 2>/dev/null | sort || true)
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

build_init() { # variant outdir
	local v=$1 d=$2 cc ld cf lf
	case $v in
	arm64-be) cc=aarch64-linux-gnu-gcc ld=aarch64-linux-gnu-ld cf="-mbig-endian" lf="-EB" ;;
	arm64-le) cc=aarch64-linux-gnu-gcc ld=aarch64-linux-gnu-ld cf="-mlittle-endian" lf="-EL" ;;
	arm-be) cc=arm-linux-gnueabihf-gcc ld=arm-linux-gnueabihf-ld
		cf="-mbig-endian -marm -march=armv7-a -mfloat-abi=soft" lf="-EB --be8" ;;
	arm-le) cc=arm-linux-gnueabihf-gcc ld=arm-linux-gnueabihf-ld
		cf="-mlittle-endian -marm -march=armv7-a -mfloat-abi=soft" lf="-EL" ;;
	esac
	$cc -Os -Wall -Wextra -Werror -ffreestanding -fno-builtin -fno-stack-protector \
		-fno-pie -fno-pic -fno-asynchronous-unwind-tables -fno-unwind-tables \
		-fno-tree-loop-distribute-patterns -nostdlib -static $cf \
		-c -o "$d/init.o" "$here/init/init.c"
	$ld $lf -static -nostdlib -e _start --build-id=none -z noexecstack -o "$d/init" "$d/init.o"
	rm -f "$d/init.o"
	cp "$d/init" "$d/init.cpio-copy"
	touch -d @0 "$d/init.cpio-copy"
	printf '%s\n' 'dir /dev 0755 0 0' 'nod /dev/console 0600 0 0 c 5 1' \
		'dir /proc 0755 0 0' 'dir /mnt 0755 0 0' \
		"file /init $d/init.cpio-copy 0755 0 0" > "$d/initramfs.list"
	"$gic" -t 0 "$d/initramfs.list" | gzip -9 -n > "$d/initrd.cpio.gz"
	rm -f "$d/init.cpio-copy" "$d/initramfs.list"
}

for v in $variants; do
	variant_params "$v"
	id=$( {
		echo "$src_id $v"
		cat "$here/build.sh" "$here/check-config.sh" "$here/init/init.c"
		for f in $FRAGS; do cat "$here/configs/$f.config"; done
		${CROSS}gcc --version | head -n1
	} | sha256sum | cut -c1-12)
	out=$CACHE/guests/$v-$id
	if [ ! -f "$out/.done" ]; then
		obj=$CACHE/obj/$v-$src_id
		mkdir -p "$obj" "$out.tmp"
		log=$out.tmp/build.log
		frags=""
		for f in $FRAGS; do frags="$frags $here/configs/$f.config"; done
		say "[$v] building $IMAGE (make -j$JOBS, log $log)"
		t0=$(date +%s)
		export ARCH CROSS_COMPILE=$CROSS
		(cd "$src" && ./scripts/kconfig/merge_config.sh -n -O "$obj" $frags) >"$log" 2>&1
		make -C "$src" O="$obj" olddefconfig >>"$log" 2>&1
		"$here/check-config.sh" "$obj/.config" $frags >>"$log" ||
			{ tail -n 20 "$log" >&2; say "[$v] config check failed"; exit 1; }
		if ! nice make -C "$src" O="$obj" -j"$JOBS" "$IMAGE" >>"$log" 2>&1; then
			tail -n 40 "$log" >&2
			say "[$v] kernel build failed"
			exit 1
		fi
		cp "$obj/arch/$ARCH/boot/$IMAGE" "$out.tmp/$IMAGE"
		cp "$obj/.config" "$out.tmp/config"
		build_init "$v" "$out.tmp"
		echo "variant=$v build_seconds=$(($(date +%s) - t0)) jobs=$JOBS" > "$out.tmp/build-time.txt"
		touch "$out.tmp/.done"
		rm -rf "$out"
		mv "$out.tmp" "$out"
		say "[$v] done in $(($(date +%s) - t0)) s"
	fi
	echo "$v $out"
done

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gsys.h - the libc-free base of lkvm's guest programs: raw Linux syscalls
 * by inline asm for aarch64 and 32-bit ARM (EABI), either byte order, the
 * _start that calls start_c(sp), and the memset/memcpy the compiler may
 * emit. Debian ships no big-endian ARM libc, so guest programs use this.
 * Build with -nostdlib -static -ffreestanding -mbig-endian|-mlittle-endian
 * and link with the cross ld -EB|-EL (plus --be8 for 32-bit ARM BE).
 */
#ifndef LKVM_GSYS_H
#define LKVM_GSYS_H

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long ulong;

#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_NOCTTY 0400
#define O_TRUNC 01000
#define F_GETFD 1
#define O_DIRECT 0200000 /* same value on arm and arm64 */
#define TCSBRK 0x5409
#define SEEK_SET 0
#define SEEK_END 2
#define CLOCK_MONOTONIC 1

/* sockets and interfaces: the same values on arm and arm64 */
#define AF_INET 2
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SO_RCVTIMEO 20 /* SO_RCVTIMEO_OLD: struct { long sec, usec; } */
#define SO_SNDTIMEO 21
#define SHUT_WR 1
#define SIOCGIFFLAGS 0x8913
#define SIOCSIFFLAGS 0x8914
#define SIOCGIFADDR 0x8915
#define SIOCSIFADDR 0x8916
#define SIOCSIFNETMASK 0x891c
#define SIOCGIFHWADDR 0x8927
#define IFF_UP 0x1

#define LINUX_REBOOT_MAGIC1 0xfee1deadUL
#define LINUX_REBOOT_MAGIC2 672274793UL
#define LINUX_REBOOT_CMD_RESTART 0x01234567UL
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321fedcUL

#if defined(__aarch64__)
#define ARCH_NAME "arm64"
/* asm-generic/unistd.h */
#define NR_dup3 24
#define NR_fcntl 25
#define NR_mkdirat 34
#define NR_unlinkat 35
#define NR_mknodat 33
#define NR_symlinkat 36
#define NR_umount2 39
#define NR_mount 40
#define NR_openat 56
#define NR_close 57
#define NR_read 63
#define NR_write 64
#define NR_sync 81
#define NR_exit_group 94
#define NR_nanosleep 101
#define NR_reboot 142
#define NR_uname 160
#define NR_getpid 172
#define NR_ioctl 29
#define NR_lseek 62
#define NR_fsync 82
#define NR_clock_gettime 113
#define NR_execve 221
#define NR_wait4 260
#define NR_clone 220
#define NR_socket 198
#define NR_bind 200
#define NR_listen 201
#define NR_connect 203
#define NR_getsockname 204
#define NR_sendto 206
#define NR_recvfrom 207
#define NR_setsockopt 208
#define NR_shutdown 210
#define NR_accept4 242
#define O_LARGEFILE 0 /* implied on 64-bit */

static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory", "cc");
	return x0;
}

__asm__(".text\n"
	".global _start\n"
	".type _start, %function\n"
	"_start:\n"
	"	mov x29, #0\n"
	"	mov x30, #0\n"
	"	mov x0, sp\n"
	"	bl start_c\n"
	"1:	b 1b\n");

#elif defined(__arm__)
#define ARCH_NAME "arm"
/* arch/arm/tools/syscall.tbl (EABI) */
#define NR_getpid 20
#define NR_mount 21
#define NR_sync 36
#define NR_umount2 52
#define NR_fcntl 55
#define NR_reboot 88
#define NR_uname 122
#define NR_nanosleep 162
#define NR_exit_group 248
#define NR_openat 322
#define NR_mkdirat 323
#define NR_unlinkat 328
#define NR_mknodat 324
#define NR_symlinkat 331
#define NR_dup3 358
#define NR_read 3
#define NR_write 4
#define NR_close 6
#define NR_ioctl 54
#define NR_lseek 19
#define NR_fsync 118
#define NR_clock_gettime 403 /* clock_gettime64: no 32-bit time_t calls */
#define NR_execve 11
#define NR_wait4 114
#define NR_clone 120
#define NR_socket 281
#define NR_bind 282
#define NR_connect 283
#define NR_listen 284
#define NR_getsockname 286
#define NR_sendto 290
#define NR_recvfrom 292
#define NR_shutdown 293
#define NR_setsockopt 294
#define NR_accept4 366
#define O_LARGEFILE 0400000 /* arm value */

static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r7 __asm__("r7") = n;
	register long r0 __asm__("r0") = a;
	register long r1 __asm__("r1") = b;
	register long r2 __asm__("r2") = c;
	register long r3 __asm__("r3") = d;
	register long r4 __asm__("r4") = e;
	register long r5 __asm__("r5") = f;
	__asm__ volatile("svc #0"
			 : "+r"(r0)
			 : "r"(r7), "r"(r1), "r"(r2), "r"(r3), "r"(r4), "r"(r5)
			 : "memory", "cc");
	return r0;
}

__asm__(".text\n"
	".global _start\n"
	".type _start, %function\n"
	".arm\n"
	"_start:\n"
	"	mov fp, #0\n"
	"	mov lr, #0\n"
	"	mov r0, sp\n"
	"	bic sp, sp, #7\n"
	"	bl start_c\n"
	"1:	b 1b\n");

#else
#error "only aarch64 and arm are supported"
#endif

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BUILT_ENDIAN "big"
#else
#define BUILT_ENDIAN "little"
#endif

#define sys0(n) sys6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(n, a, b, c, d, e) \
	sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* The compiler may emit calls to these even with -ffreestanding. */
void start_c(long *sp);

void *memset(void *d, int c, ulong n)
{
	u8 *p = d;
	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, ulong n)
{
	u8 *p = d;
	const u8 *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

#endif

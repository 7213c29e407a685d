/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hostile guest: a bare-metal arm64 program (no Linux) that breaks the
 * virtio-mmio protocol on purpose, one case at a time, and checks that lkvm
 * answers as virtio 1.2 says (DEVICE_NEEDS_RESET, 2.1.1/4.2.2) or ignores
 * the access, and that the device works again after a reset. MMU off: every
 * data access is Device-nGnRnE, so nothing may be unaligned (-mstrict-align)
 * and registers are touched only by plain ldr/str (no writeback: KVM can
 * only emulate accesses that have a valid syndrome).
 */
#ifndef HOSTILE_H
#define HOSTILE_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long s64;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#ifdef __AARCH64EB__
#define CPU_BE 1
#else
#define CPU_BE 0
#endif

static inline u16 bswap16(u16 v) { return __builtin_bswap16(v); }
static inline u32 bswap32(u32 v) { return __builtin_bswap32(v); }
static inline u64 bswap64(u64 v) { return __builtin_bswap64(v); }
static inline u32 cpu_to_le32(u32 v) { return CPU_BE ? bswap32(v) : v; }
static inline u32 cpu_to_be32(u32 v) { return CPU_BE ? v : bswap32(v); }

/* MMIO: one plain access of exactly this width (asm: no writeback forms) */
static inline u8 mmio_r8(u64 a)
{
	u8 v;

	asm volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline u16 mmio_r16(u64 a)
{
	u16 v;

	asm volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline u32 mmio_r32_raw(u64 a)
{
	u32 v;

	asm volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline u64 mmio_r64(u64 a)
{
	u64 v;

	asm volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void mmio_w8(u64 a, u8 v)
{
	asm volatile("strb %w0, [%1]" : : "r"(v), "r"(a) : "memory");
}

static inline void mmio_w16(u64 a, u16 v)
{
	asm volatile("strh %w0, [%1]" : : "r"(v), "r"(a) : "memory");
}

static inline void mmio_w32_raw(u64 a, u32 v)
{
	asm volatile("str %w0, [%1]" : : "r"(v), "r"(a) : "memory");
}

static inline void mmio_w64(u64 a, u64 v)
{
	asm volatile("str %0, [%1]" : : "r"(v), "r"(a) : "memory");
}

/* virtio-mmio registers are little-endian whatever the CPU (4.2.2) */
static inline u32 mmio_r32(u64 a) { return cpu_to_le32(mmio_r32_raw(a)); }
static inline void mmio_w32(u64 a, u32 v) { mmio_w32_raw(a, cpu_to_le32(v)); }

static inline void mb(void) { asm volatile("dsb sy" : : : "memory"); }

/* lib.c */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);
unsigned long strlen(const char *s);
int strncmp(const char *a, const char *b, unsigned long n);
void uart_init(u64 base);
void puts(const char *s);
void put_hex(u64 v);
void put_dec(u64 v);
u64 now_us(void);
void psci_off(void);

/* the device tree: what this program needs of it */
#define DT_MAX_VIRTIO 32
struct dt_info {
	u64 ram_base, ram_size;
	u64 uart;
	u64 virtio[DT_MAX_VIRTIO];
	unsigned int nr_virtio;
	const char *bootargs;
	unsigned int bootargs_len;
};
int dt_parse(const void *fdt, struct dt_info *dt);

/* a bump allocator over guest RAM (identity mapped: MMU off) */
void heap_init(u64 base, u64 end);
void heap_reset(void);
void *heap_alloc(u64 size, u64 align);

/* exceptions (start.S, lib.c): a case may expect one data abort */
struct exc_state {
	volatile int expect;  /* 1: skip the faulting instruction */
	volatile int taken;
	volatile u64 esr, far, elr;
};
extern struct exc_state exc;

#endif

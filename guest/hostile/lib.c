// SPDX-License-Identifier: GPL-2.0
/* The hostile guest's runtime: string ops, the 8250, the timer, PSCI, the DT, a heap. */
#include "hostile.h"

void *memset(void *d, int c, unsigned long n)
{
	u8 *p = d;

	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	u8 *p = d;
	const u8 *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, unsigned long n)
{
	const u8 *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

unsigned long strlen(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, unsigned long n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a < (u8)*b ? -1 : 1;
		if (!*a)
			return 0;
	}
	return 0;
}

/* ---- 8250 (THR at +0, LSR at +5, THRE bit 5) */
static u64 uart_base;

void uart_init(u64 base)
{
	uart_base = base;
}

static void putc(char c)
{
	unsigned int spin = 100000;

	if (!uart_base)
		return;
	while (!(mmio_r8(uart_base + 5) & 0x20) && --spin)
		;
	mmio_w8(uart_base, (u8)c);
}

void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

void put_hex(u64 v)
{
	char b[19];
	int i;

	b[0] = '0';
	b[1] = 'x';
	for (i = 0; i < 16; i++)
		b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
	b[18] = 0;
	for (i = 2; i < 17 && b[i] == '0'; i++)
		;
	b[i - 1] = 'x';
	b[i - 2] = '0';
	puts(b + i - 2);
}

void put_dec(u64 v)
{
	char b[21];
	int i = 20;

	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts(b + i);
}

/* ---- generic timer: the virtual counter, readable at EL1 */
u64 now_us(void)
{
	u64 cnt, frq;

	asm volatile("isb; mrs %0, cntvct_el0" : "=r"(cnt));
	asm volatile("mrs %0, cntfrq_el0" : "=r"(frq));
	if (!frq)
		frq = 62500000;
	return cnt / (frq / 1000000 ? frq / 1000000 : 1);
}

/* PSCI 0.2 SYSTEM_OFF over hvc (the DT's psci method): lkvm exits 0 */
void psci_off(void)
{
	register u64 x0 asm("x0") = 0x84000008;

	asm volatile("hvc #0" : "+r"(x0) : : "memory");
	for (;;)
		asm volatile("wfi");
}

/* ---- the flattened device tree (devicetree spec 0.4, 5): a read-only walk */
#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9

static u32 be32(const void *p)
{
	const u8 *b = p;

	return (u32)b[0] << 24 | (u32)b[1] << 16 | (u32)b[2] << 8 | b[3];
}

static u64 be64(const void *p)
{
	return (u64)be32(p) << 32 | be32((const u8 *)p + 4);
}

/* is s one of the strings of the list [p, p + len)? */
static bool strlist_has(const char *p, u32 len, const char *s)
{
	u32 n = (u32)strlen(s), i = 0;

	while (i < len) {
		u32 l = (u32)strlen(p + i);

		if (l == n && !memcmp(p + i, s, n))
			return true;
		i += l + 1;
	}
	return false;
}

int dt_parse(const void *fdt, struct dt_info *dt)
{
	const u8 *base = fdt, *st, *strs, *p, *end;
	u32 totalsize, depth = 0;
	/* the depth-1 node being walked */
	bool is_virtio = false, is_uart = false, is_mem = false, is_chosen = false;
	u64 reg = 0, reg_size = 0;

	memset(dt, 0, sizeof(*dt));
	if ((u64)fdt & 7 || be32(base) != FDT_MAGIC)
		return -1;
	totalsize = be32(base + 4);
	st = base + be32(base + 8);
	strs = base + be32(base + 12);
	end = base + totalsize;
	p = st;
	while (p + 4 <= end) {
		u32 tok = be32(p);

		p += 4;
		if (tok == FDT_BEGIN_NODE) {
			const char *name = (const char *)p;
			u32 l = (u32)strlen(name);

			depth++;
			if (depth == 2) {
				is_virtio = is_uart = is_mem = false;
				is_chosen = !strncmp(name, "chosen", 7);
				reg = reg_size = 0;
			}
			p += (l + 1 + 3) & ~3u;
		} else if (tok == FDT_END_NODE) {
			if (depth == 2) {
				if (is_virtio && reg && dt->nr_virtio < DT_MAX_VIRTIO)
					dt->virtio[dt->nr_virtio++] = reg;
				if (is_uart && reg)
					dt->uart = reg;
				if (is_mem && reg && !dt->ram_size) {
					dt->ram_base = reg;
					dt->ram_size = reg_size;
				}
			}
			if (!depth)
				return -1;
			depth--;
		} else if (tok == FDT_PROP) {
			u32 len = be32(p), nameoff = be32(p + 4);
			const char *pname = (const char *)strs + nameoff;
			const u8 *val = p + 8;

			p += 8 + ((len + 3) & ~3u);
			if (depth != 2)
				continue;
			/* the root has #address-cells = #size-cells = 2 */
			if (!strncmp(pname, "reg", 4) && len >= 16) {
				reg = be64(val);
				reg_size = be64(val + 8);
			} else if (!strncmp(pname, "compatible", 11)) {
				is_virtio = strlist_has((const char *)val, len, "virtio,mmio");
				is_uart = strlist_has((const char *)val, len, "ns16550a");
			} else if (!strncmp(pname, "device_type", 12)) {
				is_mem = strlist_has((const char *)val, len, "memory");
			} else if (is_chosen && !strncmp(pname, "bootargs", 9)) {
				dt->bootargs = (const char *)val;
				dt->bootargs_len = len ? len - 1 : 0;
			}
		} else if (tok == FDT_NOP) {
			continue;
		} else if (tok == FDT_END) {
			break;
		} else {
			return -1;
		}
	}
	return dt->ram_size && dt->uart ? 0 : -1;
}

/* ---- heap */
static u64 heap_base, heap_cur, heap_end;

void heap_init(u64 base, u64 end)
{
	heap_base = heap_cur = base;
	heap_end = end;
}

void heap_reset(void)
{
	heap_cur = heap_base;
}

void *heap_alloc(u64 size, u64 align)
{
	u64 p = (heap_cur + align - 1) & ~(align - 1);

	if (p + size > heap_end || p + size < p) {
		puts("HOSTILE heap exhausted\n");
		psci_off();
	}
	heap_cur = p + size;
	memset((void *)p, 0, size);
	return (void *)p;
}

/* ---- exceptions: called by start.S with the syndrome */
struct exc_state exc;

u64 exc_handle(u64 kind, u64 esr, u64 far, u64 elr)
{
	if (exc.expect && kind == 0) {
		exc.taken++;
		exc.esr = esr;
		exc.far = far;
		exc.elr = elr;
		return elr + 4; /* skip the faulting access */
	}
	puts("HOSTILE EXCEPTION kind=");
	put_hex(kind);
	puts(" esr=");
	put_hex(esr);
	puts(" far=");
	put_hex(far);
	puts(" elr=");
	put_hex(elr);
	puts("\n");
	psci_off();
	return elr;
}

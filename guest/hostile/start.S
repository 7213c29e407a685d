/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Entry of the hostile guest: an arm64 Image header (Documentation/arm64/
 * booting.rst: its fields are little-endian whatever the kernel's byte
 * order; flags bit 0 = big-endian), then the boot code. lkvm enters at EL1h,
 * MMU off, DAIF masked, x0 = DTB. A big-endian build sets SCTLR_EL1.EE
 * before its first data access (the boot protocol leaves that to the
 * kernel); instruction fetches are little-endian on AArch64 either way.
 */
#ifdef __AARCH64EB__
#define IMAGE_FLAGS 1
#else
#define IMAGE_FLAGS 0
#endif
#define IMAGE_SIZE 0x400000	/* file + bss + stack, rounded up */
#define SCTLR_EE (1 << 25)
#define SCTLR_E0E (1 << 24)
#define SCTLR_A (1 << 1)

	.macro le32 v
	.byte (\v) & 0xff, ((\v) >> 8) & 0xff, ((\v) >> 16) & 0xff, ((\v) >> 24) & 0xff
	.endm

	.section .head, "ax"
	.globl _start
_start:
	b	entry			/* code0 */
	le32	0			/* code1 */
	le32	0			/* text_offset: 0 (lo, hi) */
	le32	0
	le32	IMAGE_SIZE		/* image_size */
	le32	0
	le32	IMAGE_FLAGS		/* flags */
	le32	0
	le32	0			/* res2..res4 */
	le32	0
	le32	0
	le32	0
	le32	0
	le32	0
	.ascii	"ARM\x64"		/* magic at 0x38 */
	le32	0			/* res5 */

	.text
entry:
	mov	x19, x0
	mrs	x1, sctlr_el1
	bic	x1, x1, #SCTLR_A	/* alignment faults only where Device memory asks */
#ifdef __AARCH64EB__
	orr	x1, x1, #(SCTLR_EE | SCTLR_E0E)
#else
	bic	x1, x1, #(SCTLR_EE | SCTLR_E0E)
#endif
	msr	sctlr_el1, x1
	isb
	/* linked at lkvm's load address (RAM base + text_offset): refuse to run elsewhere */
	adr	x1, _start
	ldr	x2, =_start
	cmp	x1, x2
	b.ne	bad_load
	ldr	x1, =stack_top
	mov	sp, x1
	ldr	x1, =vectors
	msr	vbar_el1, x1
	isb
	ldr	x1, =__bss_start
	ldr	x2, =__bss_end
1:	cmp	x1, x2
	b.hs	2f
	str	xzr, [x1], #8
	b	1b
2:	mov	x0, x19
	bl	hostile_main
	bl	psci_off
3:	wfi
	b	3b

bad_load:
	/* PSCI SYSTEM_RESET: lkvm exits non-zero, so the job fails */
	movz	w0, #0x0009
	movk	w0, #0x8400, lsl #16
	hvc	#0
	b	bad_load

/*
 * Vectors (ARM ARM D1.10): only "current EL with SPx" is expected. Each
 * saves the caller-saved registers, calls exc_handle(kind, esr, far, elr)
 * and returns to the address it gives back.
 */
	.macro vec kind
	.balign	0x80
	sub	sp, sp, #(22 * 8)
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x29, [sp, #144]
	str	x30, [sp, #160]
	mov	x0, #\kind
	b	exc_common
	.endm

	.balign	0x800
vectors:
	vec	0x10	/* current EL, SP0 */
	vec	0x11
	vec	0x12
	vec	0x13
	vec	0	/* current EL, SPx: synchronous */
	vec	1	/* IRQ */
	vec	2	/* FIQ */
	vec	3	/* SError */
	vec	0x20	/* lower EL, AArch64 */
	vec	0x21
	vec	0x22
	vec	0x23
	vec	0x30	/* lower EL, AArch32 */
	vec	0x31
	vec	0x32
	vec	0x33

exc_common:
	mrs	x1, esr_el1
	mrs	x2, far_el1
	mrs	x3, elr_el1
	bl	exc_handle
	msr	elr_el1, x0
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x29, [sp, #144]
	ldr	x30, [sp, #160]
	add	sp, sp, #(22 * 8)
	eret

	.ltorg

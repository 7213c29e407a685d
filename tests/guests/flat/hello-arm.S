/*
 * The AArch32 twin of hello-arm64.S: lkvm loads a flat binary for an
 * --aarch32 guest at RAM + 0x8000 and enters it in SVC mode with r2 = DTB.
 */
	.arch	armv7-a
	.arch_extension virt
	.arm
	.text
	.globl _start
_start:
	mov	r0, #0x01000000
	adr	r1, msg
1:	ldrb	r2, [r1], #1
	cmp	r2, #0
	beq	2f
	strb	r2, [r0]
	b	1b
2:	movw	r0, #0x0008
	movt	r0, #0x8400		/* PSCI_0_2_FN_SYSTEM_OFF */
	hvc	#0
4:	b	4b
msg:	.asciz	"FLAT-OK arch=arm EXIT: STATUS=1\n"

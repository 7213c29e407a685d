/*
 * A flat binary like kvm-unit-tests' (no header): prints a tagged line on
 * the 8250 at 0x1000000 (kvmtool's UART address, lkvm's too) and powers off
 * with PSCI SYSTEM_OFF. Position independent: lkvm loads it at
 * RAM + 0x80000 and enters it at EL1 with x0 = DTB.
 */
	.text
	.globl _start
_start:
	mov	x0, #0x01000000
	adr	x1, msg
1:	ldrb	w2, [x1], #1
	cbz	w2, 2f
	strb	w2, [x0]
	b	1b
2:	movz	w0, #0x0008
	movk	w0, #0x8400, lsl #16	/* PSCI_0_2_FN_SYSTEM_OFF */
	hvc	#0
4:	b	4b
msg:	.asciz	"FLAT-OK arch=arm64 EXIT: STATUS=1\n"

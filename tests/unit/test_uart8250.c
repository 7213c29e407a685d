// SPDX-License-Identifier: GPL-2.0
/* term/uart8250.c driven through its MMIO ops, as a vCPU would. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "uart8250.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

struct rig {
	struct uart8250 u;
	int pipe[2]; /* the UART writes pipe[1]; the test reads pipe[0] */
	int irq_level;
	unsigned int irq_calls;
};

static void rig_irq(void *opaque, int level)
{
	struct rig *r = opaque;

	r->irq_level = level;
	r->irq_calls++;
}

static bool rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	if (!CHECK(pipe2(r->pipe, O_NONBLOCK | O_CLOEXEC) == 0))
		return false;
	uart8250_init(&r->u, 0x01000000, r->pipe[1], rig_irq, r);
	return true;
}

static void rig_exit(struct rig *r)
{
	uart8250_exit(&r->u);
	close(r->pipe[0]);
	close(r->pipe[1]);
}

static uint8_t rd(struct rig *r, uint64_t off)
{
	uint8_t d[1] = { 0xee };

	r->u.mdev.ops->read(&r->u.mdev, NULL, off, d, 1);
	return d[0];
}

static void wr(struct rig *r, uint64_t off, uint8_t v)
{
	r->u.mdev.ops->write(&r->u.mdev, NULL, off, &v, 1);
}

/* Bytes waiting on the pipe (0 if none), up to max. */
static size_t drain(struct rig *r, uint8_t *buf, size_t max)
{
	ssize_t n = read(r->pipe[0], buf, max);

	return n > 0 ? (size_t)n : 0;
}

TEST(uart8250, init_dt)
{
	struct rig r;

	REQUIRE(rig_init(&r));
	CHECK_EQ_U64(r.u.mdev.base, 0x01000000);
	CHECK_EQ_U64(r.u.mdev.size, UART8250_MMIO_SIZE);
	CHECK(r.u.mdev.opaque == &r.u);
	CHECK_STR(r.u.mdev.dt.compatible, "ns16550a");
	CHECK_EQ_U64(r.u.mdev.dt.clock_frequency, 1843200);
	CHECK(r.u.mdev.dt.has_irq);
	CHECK(r.u.mdev.dt.stdout_path);
	/* nothing pending at reset: line low, IIR "no interrupt" */
	CHECK_EQ_U64(rd(&r, IIR), 0x01);
	CHECK_EQ_U64(r.irq_level, 0);
	rig_exit(&r);
}

TEST(uart8250, thr_to_pipe)
{
	struct rig r;
	uint8_t buf[16];

	REQUIRE(rig_init(&r));
	wr(&r, THR, 'o');
	wr(&r, THR, 'k');
	CHECK_EQ_U64(drain(&r, buf, sizeof(buf)), 2);
	CHECK_MEM(buf, "ok", 2);
	/* output is synchronous: the transmitter always looks empty */
	CHECK_EQ_U64(rd(&r, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	CHECK_EQ_U64(rd(&r, LSR) & LSR_DR, 0);
	/* no IER.THRI: no interrupt for it */
	CHECK_EQ_U64(r.irq_level, 0);
	CHECK_EQ_U64(r.irq_calls, 0);
	rig_exit(&r);
}

/* Linux's 8250 driver waits for THRE after enabling THRI: it must come at once */
TEST(uart8250, thri)
{
	struct rig r;
	uint8_t buf[4];

	REQUIRE(rig_init(&r));
	wr(&r, IER, 0x02);
	CHECK_EQ_U64(r.irq_level, 1);
	CHECK_EQ_U64(rd(&r, IER), 0x02);
	CHECK_EQ_U64(rd(&r, IIR), 0x02);
	/* reading IIR acknowledged it */
	CHECK_EQ_U64(r.irq_level, 0);
	CHECK_EQ_U64(rd(&r, IIR), 0x01);
	/* each byte sent raises it again */
	wr(&r, THR, 'x');
	CHECK_EQ_U64(r.irq_level, 1);
	CHECK_EQ_U64(drain(&r, buf, sizeof(buf)), 1);
	/* with the FIFO on, IIR has the FIFO bits too */
	wr(&r, FCR, 0x01);
	CHECK_EQ_U64(rd(&r, IIR), 0xc2);
	CHECK_EQ_U64(r.irq_level, 0);
	CHECK_EQ_U64(rd(&r, IIR), 0xc1);
	/* disabling THRI drops a pending one */
	wr(&r, THR, 'y');
	CHECK_EQ_U64(r.irq_level, 1);
	wr(&r, IER, 0x00);
	CHECK_EQ_U64(r.irq_level, 0);
	rig_exit(&r);
}

TEST(uart8250, rx)
{
	struct rig r;

	REQUIRE(rig_init(&r));
	wr(&r, IER, 0x01);
	CHECK_EQ_U64(r.irq_level, 0);
	CHECK_EQ_U64(uart8250_rx(&r.u, (const uint8_t *)"hi!", 3), 3);
	CHECK_EQ_U64(rd(&r, LSR) & LSR_DR, LSR_DR);
	CHECK_EQ_U64(rd(&r, IIR), 0x04);
	CHECK_EQ_U64(r.irq_level, 1);
	CHECK_EQ_U64(rd(&r, RBR), 'h');
	CHECK_EQ_U64(rd(&r, RBR), 'i');
	CHECK_EQ_U64(r.irq_level, 1); /* still data */
	CHECK_EQ_U64(rd(&r, RBR), '!');
	CHECK_EQ_U64(r.irq_level, 0);
	CHECK_EQ_U64(rd(&r, LSR) & LSR_DR, 0);
	CHECK_EQ_U64(rd(&r, IIR), 0x01);
	CHECK_EQ_U64(rd(&r, RBR), 0); /* empty */
	rig_exit(&r);
}

/* input without IER.RDI: DR set but no interrupt (polling earlycon) */
TEST(uart8250, rx_polled)
{
	struct rig r;

	REQUIRE(rig_init(&r));
	CHECK_EQ_U64(uart8250_rx(&r.u, (const uint8_t *)"a", 1), 1);
	CHECK_EQ_U64(rd(&r, LSR) & LSR_DR, LSR_DR);
	CHECK_EQ_U64(r.irq_level, 0);
	CHECK_EQ_U64(rd(&r, IIR), 0x01);
	/* enabling RDI with data waiting raises it */
	wr(&r, IER, 0x01);
	CHECK_EQ_U64(r.irq_level, 1);
	CHECK_EQ_U64(rd(&r, RBR), 'a');
	CHECK_EQ_U64(r.irq_level, 0);
	rig_exit(&r);
}

/* RDI outranks THRI in IIR */
TEST(uart8250, iir_priority)
{
	struct rig r;

	REQUIRE(rig_init(&r));
	wr(&r, IER, 0x03);
	CHECK_EQ_U64(uart8250_rx(&r.u, (const uint8_t *)"z", 1), 1);
	CHECK_EQ_U64(rd(&r, IIR), 0x04);
	CHECK_EQ_U64(rd(&r, RBR), 'z');
	CHECK_EQ_U64(rd(&r, IIR), 0x02); /* THRI was still pending */
	CHECK_EQ_U64(rd(&r, IIR), 0x01);
	CHECK_EQ_U64(r.irq_level, 0);
	rig_exit(&r);
}

TEST(uart8250, dlab)
{
	struct rig r;
	uint8_t buf[4];

	REQUIRE(rig_init(&r));
	wr(&r, IER, 0x05);
	wr(&r, LCR, 0x83);
	wr(&r, DLL, 0x0c);
	wr(&r, DLM, 0x5a);
	CHECK_EQ_U64(rd(&r, DLL), 0x0c);
	CHECK_EQ_U64(rd(&r, DLM), 0x5a);
	CHECK_EQ_U64(rd(&r, LCR), 0x83);
	/* the divisor write was not a character, nor an IER write */
	CHECK_EQ_U64(drain(&r, buf, sizeof(buf)), 0);
	wr(&r, LCR, 0x03);
	CHECK_EQ_U64(rd(&r, IER), 0x05);
	CHECK_EQ_U64(rd(&r, LCR), 0x03);
	/* DLAB also hides the receive buffer */
	CHECK_EQ_U64(uart8250_rx(&r.u, (const uint8_t *)"q", 1), 1);
	wr(&r, LCR, 0x83);
	CHECK_EQ_U64(rd(&r, DLL), 0x0c);
	wr(&r, LCR, 0x03);
	CHECK_EQ_U64(rd(&r, RBR), 'q');
	rig_exit(&r);
}

TEST(uart8250, loopback)
{
	struct rig r;
	uint8_t buf[4];

	REQUIRE(rig_init(&r));
	wr(&r, MCR, 0x10);
	CHECK_EQ_U64(rd(&r, MCR), 0x10);
	wr(&r, THR, 'L');
	CHECK_EQ_U64(drain(&r, buf, sizeof(buf)), 0);
	CHECK_EQ_U64(rd(&r, LSR) & LSR_DR, LSR_DR);
	CHECK_EQ_U64(rd(&r, RBR), 'L');
	CHECK_EQ_U64(rd(&r, LSR) & LSR_DR, 0);
	/* outside input is cut off in loopback (taken and dropped) */
	CHECK_EQ_U64(uart8250_rx(&r.u, (const uint8_t *)"xy", 2), 2);
	CHECK_EQ_U64(rd(&r, LSR) & LSR_DR, 0);
	/* modem outputs come back as inputs: RTS -> CTS, DTR -> DSR */
	wr(&r, MCR, 0x13);
	CHECK_EQ_U64(rd(&r, MSR) & 0xf0, 0x30);
	wr(&r, MCR, 0x00);
	wr(&r, THR, 'o');
	CHECK_EQ_U64(drain(&r, buf, sizeof(buf)), 1);
	CHECK_EQ_U64(buf[0], 'o');
	rig_exit(&r);
}

/* a byte that finds the receive buffer full is lost and flagged as an overrun */
TEST(uart8250, loopback_overrun)
{
	static uint8_t in[UART8250_RX_BUF];
	struct rig r;

	REQUIRE(rig_init(&r));
	memset(in, 'a', sizeof(in));
	CHECK_EQ_U64(uart8250_rx(&r.u, in, sizeof(in)), UART8250_RX_BUF);
	wr(&r, MCR, 0x10);
	wr(&r, THR, 'b');
	CHECK_EQ_U64(rd(&r, LSR) & (LSR_OE | LSR_DR), LSR_OE | LSR_DR);
	CHECK_EQ_U64(rd(&r, LSR) & LSR_OE, 0); /* reading LSR cleared it */
	CHECK_EQ_U64(r.u.rx_len, UART8250_RX_BUF);
	rig_exit(&r);
}

TEST(uart8250, fcr_clear_receiver)
{
	struct rig r;

	REQUIRE(rig_init(&r));
	wr(&r, IER, 0x01);
	CHECK_EQ_U64(uart8250_rx(&r.u, (const uint8_t *)"abc", 3), 3);
	CHECK_EQ_U64(r.irq_level, 1);
	wr(&r, FCR, 0x07);
	CHECK_EQ_U64(rd(&r, LSR) & LSR_DR, 0);
	CHECK_EQ_U64(r.irq_level, 0);
	CHECK_EQ_U64(rd(&r, RBR), 0);
	CHECK_EQ_U64(rd(&r, IIR), 0xc1);
	/* the buffer works normally afterwards */
	CHECK_EQ_U64(uart8250_rx(&r.u, (const uint8_t *)"d", 1), 1);
	CHECK_EQ_U64(rd(&r, RBR), 'd');
	rig_exit(&r);
}

/* a full buffer takes what fits; the terminal keeps the rest */
TEST(uart8250, rx_full)
{
	static uint8_t in[UART8250_RX_BUF + 100];
	struct rig r;
	size_t i;
	bool order = true;

	REQUIRE(rig_init(&r));
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 13);
	CHECK_EQ_U64(uart8250_rx(&r.u, in, sizeof(in)), UART8250_RX_BUF);
	CHECK_EQ_U64(uart8250_rx(&r.u, in, 1), 0);
	/* reading one byte makes room for exactly one */
	CHECK_EQ_U64(rd(&r, RBR), in[0]);
	CHECK_EQ_U64(uart8250_rx(&r.u, in + UART8250_RX_BUF, 100), 1);
	for (i = 1; i <= UART8250_RX_BUF; i++)
		if (rd(&r, RBR) != in[i])
			order = false;
	CHECK(order);
	CHECK_EQ_U64(rd(&r, LSR) & LSR_DR, 0);
	rig_exit(&r);
}

TEST(uart8250, scratch_and_unknown)
{
	struct rig r;

	REQUIRE(rig_init(&r));
	wr(&r, SCR, 0x5a);
	CHECK_EQ_U64(rd(&r, SCR), 0x5a);
	/* offsets past the 8 registers read 0 and ignore writes */
	wr(&r, 0x10, 'X');
	CHECK_EQ_U64(rd(&r, 0x10), 0);
	CHECK_EQ_U64(rd(&r, 0xfff), 0);
	rig_exit(&r);
}

// SPDX-License-Identifier: GPL-2.0
/* 16550A UART (PC16550D datasheet; Linux drivers/tty/serial/8250). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "uart8250.h"

enum {
	UART_RX = 0, UART_TX = 0, UART_DLL = 0,
	UART_IER = 1, UART_DLM = 1,
	UART_IIR = 2, UART_FCR = 2,
	UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI 0x08
#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_FIFO_ENABLED 0xc0
#define FCR_ENABLE_FIFO 0x01
#define FCR_CLEAR_RCVR 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERR_MASK 0x1e
#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTA_MASK 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

static uint8_t uart_iir(const struct uart8250 *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE_FIFO) ? IIR_FIFO_ENABLED : 0;

	if ((u->ier & IER_RLSI) && (u->lsr_err & LSR_ERR_MASK))
		return IIR_RLSI | fifo;
	if ((u->ier & IER_RDI) && u->rx_len)
		return IIR_RDI | fifo;
	if ((u->ier & IER_THRI) && u->thri_pending)
		return IIR_THRI | fifo;
	if ((u->ier & IER_MSI) && (u->msr & MSR_DELTA_MASK))
		return IIR_MSI | fifo;
	return IIR_NO_INT | fifo;
}

/* called with the lock held; the irq line only moves on a change */
static void uart_update_irq(struct uart8250 *u)
{
	int level = !(uart_iir(u) & IIR_NO_INT);

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->set_irq)
			u->set_irq(u->irq_opaque, level);
	}
}

static void uart_put_rx(struct uart8250 *u, uint8_t c)
{
	if (u->rx_len == UART8250_RX_BUF) {
		u->lsr_err |= LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_len) % UART8250_RX_BUF] = c;
	u->rx_len++;
}

static void uart_tx(struct uart8250 *u, uint8_t c)
{
	if (u->mcr & MCR_LOOP) {
		uart_put_rx(u, c);
	} else {
		ssize_t n;

		do {
			n = write(u->out_fd, &c, 1);
		} while (n < 0 && errno == EINTR);
		if (u->log_fd >= 0 && write(u->log_fd, &c, 1) < 0) {
			/* a full disk must not stop the guest */
		}
		/*
		 * A closed output drops the byte; a full pipe blocks this vCPU
		 * like a real line would (backpressure), never loses output.
		 */
	}
	u->thri_pending = true;
}

static uint8_t uart_msr(const struct uart8250 *u)
{
	uint8_t msr = u->msr;

	/* loopback wires MCR outputs back to the modem inputs */
	if (u->mcr & MCR_LOOP) {
		msr &= MSR_DELTA_MASK;
		if (u->mcr & MCR_RTS)
			msr |= MSR_CTS;
		if (u->mcr & MCR_DTR)
			msr |= MSR_DSR;
		if (u->mcr & MCR_OUT1)
			msr |= MSR_RI;
		if (u->mcr & MCR_OUT2)
			msr |= MSR_DCD;
	}
	return msr;
}

static void uart_read(struct mmio_dev *dev, struct vcpu *vcpu, uint64_t off, uint8_t *data,
		      unsigned int len)
{
	struct uart8250 *u = dev->opaque;
	uint8_t v = 0;

	(void)vcpu;
	(void)len;
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case UART_RX:
		if (u->lcr & LCR_DLAB) {
			v = u->dll;
		} else if (u->rx_len) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART8250_RX_BUF;
			u->rx_len--;
		}
		break;
	case UART_IER:
		v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case UART_IIR:
		v = uart_iir(u);
		/* reading IIR while it reports THRE clears that interrupt */
		if ((v & 0x0f) == IIR_THRI)
			u->thri_pending = false;
		break;
	case UART_LCR:
		v = u->lcr;
		break;
	case UART_MCR:
		v = u->mcr;
		break;
	case UART_LSR:
		/* output is written synchronously: the transmitter is always empty */
		v = LSR_THRE | LSR_TEMT | u->lsr_err | (u->rx_len ? LSR_DR : 0);
		u->lsr_err = 0;
		break;
	case UART_MSR:
		v = uart_msr(u);
		u->msr &= ~MSR_DELTA_MASK;
		break;
	case UART_SCR:
		v = u->scr;
		break;
	default:
		break;
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	data[0] = v;
}

static void uart_write(struct mmio_dev *dev, struct vcpu *vcpu, uint64_t off, const uint8_t *data,
		       unsigned int len)
{
	struct uart8250 *u = dev->opaque;
	uint8_t v = data[0];

	(void)vcpu;
	(void)len;
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case UART_TX:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			uart_tx(u, v);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			/* enabling THRI with THR empty raises it at once (Linux's THRE test) */
			if (!(u->ier & IER_THRI) && (v & IER_THRI))
				u->thri_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case UART_FCR:
		u->fcr = v & (FCR_ENABLE_FIFO | 0xc0);
		if (v & FCR_CLEAR_RCVR)
			u->rx_head = u->rx_len = 0;
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & 0x1f;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default:
		break;
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static const struct mmio_ops uart8250_ops = {
	.read = uart_read,
	.write = uart_write,
};

void uart8250_init(struct uart8250 *u, uint64_t base, int out_fd,
		   void (*set_irq)(void *opaque, int level), void *irq_opaque)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->out_fd = out_fd;
	u->log_fd = -1;
	u->set_irq = set_irq;
	u->irq_opaque = irq_opaque;
	u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	u->mdev = (struct mmio_dev){
		.base = base,
		.size = UART8250_MMIO_SIZE,
		.ops = &uart8250_ops,
		.opaque = u,
		.dt = {
			.name = "uart",
			.compatible = "ns16550a",
			.has_irq = true,
			.clock_frequency = UART8250_CLOCK,
			.stdout_path = true,
		},
	};
}

void uart8250_exit(struct uart8250 *u)
{
	pthread_mutex_destroy(&u->lock);
}

size_t uart8250_rx(struct uart8250 *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	/* loopback mode disconnects the receiver from the outside */
	if (!(u->mcr & MCR_LOOP)) {
		while (n < len && u->rx_len < UART8250_RX_BUF)
			uart_put_rx(u, buf[n++]);
		uart_update_irq(u);
	} else {
		n = len;
	}
	pthread_mutex_unlock(&u->lock);
	return n;
}

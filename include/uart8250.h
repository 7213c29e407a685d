/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_UART8250_H
#define LKVM_UART8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmio_bus.h"

#define UART8250_MMIO_SIZE 0x1000 /* 8 registers, reg-shift 0, in a page */
#define UART8250_CLOCK 1843200
#define UART8250_RX_BUF 4096

/*
 * A 16550A good enough for Linux's 8250 driver and earlycon: THR writes
 * go straight to out_fd, input is queued by the terminal. vCPU threads and
 * the main thread meet here, hence the lock.
 */
struct uart8250 {
	struct mmio_dev mdev;
	pthread_mutex_t lock;
	int out_fd;
	int log_fd; /* --console-log, or -1 */
	void (*set_irq)(void *opaque, int level);
	void *irq_opaque;
	int irq_level;

	uint8_t ier, lcr, mcr, lsr_err, msr, scr, dll, dlm, fcr;
	bool thri_pending; /* THR empty interrupt latched (cleared by IIR read) */
	uint8_t rx[UART8250_RX_BUF];
	size_t rx_head, rx_len;
};

void uart8250_init(struct uart8250 *u, uint64_t base, int out_fd,
		   void (*set_irq)(void *opaque, int level), void *irq_opaque);
void uart8250_exit(struct uart8250 *u);
/* Queues input for the guest; returns how many bytes fit. */
size_t uart8250_rx(struct uart8250 *u, const uint8_t *buf, size_t len);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_MMIO_BUS_H
#define LKVM_MMIO_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct vcpu;
struct mmio_dev;

/*
 * data points at kvm_run->mmio.data: bytes in bus (memory) order, whatever
 * the host's order. Use mmio_get_le()/mmio_put_le() to decode LE registers.
 * vcpu is the accessing vCPU (NULL from unit tests).
 */
struct mmio_ops {
	void (*read)(struct mmio_dev *dev, struct vcpu *vcpu, uint64_t off, uint8_t *data,
		     unsigned int len);
	void (*write)(struct mmio_dev *dev, struct vcpu *vcpu, uint64_t off, const uint8_t *data,
		      unsigned int len);
};

/* What the device tree needs to describe a device; arm/fdt.c reads it. */
struct dt_info {
	const char *name;       /* node name without unit address, e.g. "uart" */
	const char *compatible;
	bool has_irq;
	uint32_t irq;           /* irq line (core/irq.c numbering) */
	bool irq_edge;          /* edge rising, else level high */
	uint32_t clock_frequency; /* 0: none */
	bool dma_coherent;
	bool stdout_path;       /* the console: chosen/stdout-path points here */
};

struct mmio_dev {
	uint64_t base;
	uint64_t size;
	const struct mmio_ops *ops;
	void *opaque;
	struct dt_info dt;
};

#define MMIO_BUS_MAX_DEVS 64

/* Filled before vCPUs start, read-only after: lookups need no lock. */
struct mmio_bus {
	struct mmio_dev *devs[MMIO_BUS_MAX_DEVS];
	unsigned int nr;
};

int mmio_bus_register(struct mmio_bus *bus, struct mmio_dev *dev, struct lkvm_err *e);
struct mmio_dev *mmio_bus_find(const struct mmio_bus *bus, uint64_t addr, unsigned int len);
/* false if no device claims [addr, addr+len): reads then return zeroes. */
bool mmio_bus_access(const struct mmio_bus *bus, struct vcpu *vcpu, uint64_t addr, uint8_t *data,
		     unsigned int len, bool is_write);

/* Little-endian register value from/to bus-order bytes, on any host. */
static inline uint64_t mmio_get_le(const uint8_t *data, unsigned int len)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static inline void mmio_put_le(uint8_t *data, unsigned int len, uint64_t v)
{
	unsigned int i;

	for (i = 0; i < len && i < 8; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

#endif

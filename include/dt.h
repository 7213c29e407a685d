/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_DT_H
#define LKVM_DT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "mmio_bus.h"

/* Everything the arm device tree describes; built by arm/kvm.c. */
struct arm_dt_desc {
	uint64_t ram_base;
	uint64_t ram_size;
	unsigned int nr_cpus;
	const uint64_t *mpidr; /* nr_cpus entries */
	bool aarch32;
	enum irqchip_type gic;
	uint64_t gic_dist_base, gic_dist_size;
	uint64_t gic_redist_base, gic_redist_size; /* GICv3 */
	uint64_t gic_cpu_base, gic_cpu_size;       /* GICv2 */
	uint64_t its_base, its_size;               /* size 0: no ITS */
	bool pmu;                                  /* a PMUv3 node, on pmu_ppi */
	uint32_t pmu_ppi;
	const struct mmio_bus *bus;                /* devices to describe */
	const char *bootargs;                      /* NULL: empty */
	uint64_t initrd_start, initrd_end;         /* end 0: no initrd */
};

/* GIC interrupt specifier constants (dt-bindings/interrupt-controller) */
#define DT_GIC_SPI 0
#define DT_GIC_PPI 1
#define DT_IRQ_EDGE_RISING 1
#define DT_IRQ_LEVEL_HIGH 4
#define DT_GIC_PHANDLE 1
#define DT_ITS_PHANDLE 2

/* Builds the blob into buf (size bytes); fdt_totalsize() gives its length. */
int arm_dt_build(const struct arm_dt_desc *d, void *buf, size_t size, struct lkvm_err *e);

#endif

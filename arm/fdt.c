// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's device tree (Documentation/devicetree/bindings: arm/psci,
 * interrupt-controller/arm,gic*, timer/arm,arch_timer, serial/8250,
 * virtio/mmio). Pure code: the unit tests run it on any host.
 */
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "dt.h"
#include "util.h"

/* arch timer PPIs: secure phys, non-secure phys, virt, hyp */
static const uint32_t timer_ppis[] = { 13, 14, 11, 10 };

#define CHECK(call)                                                             \
	do {                                                                    \
		int _r = (call);                                                \
		if (_r < 0)                                                     \
			return err_set(e, "device tree: %s: %s", #call, fdt_strerror(_r)); \
	} while (0)

static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t reg[2] = { cpu_to_fdt64(base), cpu_to_fdt64(size) };

	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

static int dt_cpus(void *fdt, const struct arm_dt_desc *d, struct lkvm_err *e)
{
	char name[32];
	unsigned int i;

	CHECK(fdt_begin_node(fdt, "cpus"));
	CHECK(fdt_property_cell(fdt, "#address-cells", 1));
	CHECK(fdt_property_cell(fdt, "#size-cells", 0));
	for (i = 0; i < d->nr_cpus; i++) {
		/* reg = MPIDR affinity Aff2..Aff0 (Aff3 is 0 for < 2^24 CPUs) */
		uint32_t reg = (uint32_t)(d->mpidr[i] & 0xffffff);

		snprintf(name, sizeof(name), "cpu@%x", reg);
		CHECK(fdt_begin_node(fdt, name));
		CHECK(fdt_property_string(fdt, "device_type", "cpu"));
		CHECK(fdt_property_string(fdt, "compatible",
					  d->aarch32 ? "arm,cortex-a15" : "arm,arm-v8"));
		CHECK(fdt_property_string(fdt, "enable-method", "psci"));
		CHECK(fdt_property_cell(fdt, "reg", reg));
		CHECK(fdt_end_node(fdt));
	}
	CHECK(fdt_end_node(fdt));
	return 0;
}

static int dt_gic(void *fdt, const struct arm_dt_desc *d, struct lkvm_err *e)
{
	char name[32];
	fdt64_t reg[4];

	snprintf(name, sizeof(name), "intc@%llx", (unsigned long long)d->gic_dist_base);
	CHECK(fdt_begin_node(fdt, name));
	reg[0] = cpu_to_fdt64(d->gic_dist_base);
	reg[1] = cpu_to_fdt64(d->gic_dist_size);
	if (d->gic == IRQCHIP_GICV3) {
		CHECK(fdt_property_string(fdt, "compatible", "arm,gic-v3"));
		reg[2] = cpu_to_fdt64(d->gic_redist_base);
		reg[3] = cpu_to_fdt64(d->gic_redist_size);
	} else {
		CHECK(fdt_property_string(fdt, "compatible", "arm,cortex-a15-gic"));
		reg[2] = cpu_to_fdt64(d->gic_cpu_base);
		reg[3] = cpu_to_fdt64(d->gic_cpu_size);
	}
	CHECK(fdt_property(fdt, "reg", reg, sizeof(reg)));
	CHECK(fdt_property_cell(fdt, "#interrupt-cells", 3));
	CHECK(fdt_property(fdt, "interrupt-controller", NULL, 0));
	CHECK(fdt_property_cell(fdt, "#address-cells", 2));
	CHECK(fdt_property_cell(fdt, "#size-cells", 2));
	CHECK(fdt_property_cell(fdt, "phandle", DT_GIC_PHANDLE));
	if (d->gic == IRQCHIP_GICV3 && d->its_size) {
		/* interrupt-controller/arm,gic-v3.yaml: the ITS is a child, 1:1 ranges */
		CHECK(fdt_property(fdt, "ranges", NULL, 0));
		snprintf(name, sizeof(name), "msi-controller@%llx", (unsigned long long)d->its_base);
		CHECK(fdt_begin_node(fdt, name));
		CHECK(fdt_property_string(fdt, "compatible", "arm,gic-v3-its"));
		CHECK(fdt_property(fdt, "msi-controller", NULL, 0));
		CHECK(fdt_property_cell(fdt, "#msi-cells", 1));
		CHECK(prop_reg(fdt, d->its_base, d->its_size));
		CHECK(fdt_property_cell(fdt, "phandle", DT_ITS_PHANDLE));
		CHECK(fdt_end_node(fdt));
	}
	CHECK(fdt_end_node(fdt));
	return 0;
}

/* perf/arm,pmu: the PMUv3 overflow PPI of every vCPU */
static int dt_pmu(void *fdt, const struct arm_dt_desc *d, struct lkvm_err *e)
{
	uint32_t flags = DT_IRQ_LEVEL_HIGH;
	fdt32_t irq[3];

	if (!d->pmu)
		return 0;
	if (d->gic == IRQCHIP_GICV2)
		flags |= ((1u << MIN(d->nr_cpus, 8u)) - 1) << 8;
	irq[0] = cpu_to_fdt32(DT_GIC_PPI);
	irq[1] = cpu_to_fdt32(d->pmu_ppi);
	irq[2] = cpu_to_fdt32(flags);
	CHECK(fdt_begin_node(fdt, "pmu"));
	CHECK(fdt_property_string(fdt, "compatible", "arm,armv8-pmuv3"));
	CHECK(fdt_property(fdt, "interrupts", irq, sizeof(irq)));
	CHECK(fdt_end_node(fdt));
	return 0;
}

static int dt_timer_psci(void *fdt, const struct arm_dt_desc *d, struct lkvm_err *e)
{
	static const char timer_compat[] = "arm,armv8-timer\0arm,armv7-timer";
	static const char psci_compat[] = "arm,psci-0.2\0arm,psci";
	fdt32_t irqs[3 * ARRAY_SIZE(timer_ppis)];
	uint32_t flags = DT_IRQ_LEVEL_HIGH;
	unsigned int i;

	/* GICv2 PPI specifiers carry a CPU mask (bits 8-15) */
	if (d->gic == IRQCHIP_GICV2)
		flags |= ((1u << MIN(d->nr_cpus, 8u)) - 1) << 8;
	for (i = 0; i < ARRAY_SIZE(timer_ppis); i++) {
		irqs[3 * i] = cpu_to_fdt32(DT_GIC_PPI);
		irqs[3 * i + 1] = cpu_to_fdt32(timer_ppis[i]);
		irqs[3 * i + 2] = cpu_to_fdt32(flags);
	}
	CHECK(fdt_begin_node(fdt, "timer"));
	CHECK(fdt_property(fdt, "compatible", timer_compat, sizeof(timer_compat)));
	CHECK(fdt_property(fdt, "interrupts", irqs, sizeof(irqs)));
	CHECK(fdt_property(fdt, "always-on", NULL, 0));
	CHECK(fdt_end_node(fdt));

	CHECK(fdt_begin_node(fdt, "psci"));
	CHECK(fdt_property(fdt, "compatible", psci_compat, sizeof(psci_compat)));
	CHECK(fdt_property_string(fdt, "method", "hvc"));
	CHECK(fdt_end_node(fdt));
	return 0;
}

static void dt_dev_path(const struct mmio_dev *dev, char *buf, size_t len)
{
	snprintf(buf, len, "/%s@%llx", dev->dt.name, (unsigned long long)dev->base);
}

static int dt_devices(void *fdt, const struct arm_dt_desc *d, struct lkvm_err *e)
{
	unsigned int i;
	char path[64];

	for (i = 0; d->bus && i < d->bus->nr; i++) {
		const struct mmio_dev *dev = d->bus->devs[i];

		if (!dev->dt.compatible)
			continue;
		dt_dev_path(dev, path, sizeof(path));
		CHECK(fdt_begin_node(fdt, path + 1));
		CHECK(fdt_property_string(fdt, "compatible", dev->dt.compatible));
		CHECK(prop_reg(fdt, dev->base, dev->size));
		if (dev->dt.has_irq) {
			fdt32_t irq[3] = {
				cpu_to_fdt32(DT_GIC_SPI), cpu_to_fdt32(dev->dt.irq),
				cpu_to_fdt32(dev->dt.irq_edge ? DT_IRQ_EDGE_RISING : DT_IRQ_LEVEL_HIGH)
			};

			CHECK(fdt_property(fdt, "interrupts", irq, sizeof(irq)));
		}
		if (dev->dt.clock_frequency)
			CHECK(fdt_property_cell(fdt, "clock-frequency", dev->dt.clock_frequency));
		if (dev->dt.dma_coherent)
			CHECK(fdt_property(fdt, "dma-coherent", NULL, 0));
		CHECK(fdt_end_node(fdt));
	}
	return 0;
}

static int dt_chosen(void *fdt, const struct arm_dt_desc *d, struct lkvm_err *e)
{
	const struct mmio_dev *console = NULL;
	unsigned int i;
	char path[64];

	for (i = 0; d->bus && i < d->bus->nr; i++)
		if (d->bus->devs[i]->dt.stdout_path && d->bus->devs[i]->dt.compatible)
			console = d->bus->devs[i];
	if (console) {
		dt_dev_path(console, path, sizeof(path));
		CHECK(fdt_begin_node(fdt, "aliases"));
		CHECK(fdt_property_string(fdt, "serial0", path));
		CHECK(fdt_end_node(fdt));
	}
	CHECK(fdt_begin_node(fdt, "chosen"));
	CHECK(fdt_property_string(fdt, "bootargs", d->bootargs ? d->bootargs : ""));
	if (console)
		CHECK(fdt_property_string(fdt, "stdout-path", path));
	if (d->initrd_end) {
		CHECK(fdt_property_u64(fdt, "linux,initrd-start", d->initrd_start));
		CHECK(fdt_property_u64(fdt, "linux,initrd-end", d->initrd_end));
	}
	CHECK(fdt_end_node(fdt));
	return 0;
}

int arm_dt_build(const struct arm_dt_desc *d, void *buf, size_t size, struct lkvm_err *e)
{
	void *fdt = buf;
	char name[32];

	CHECK(fdt_create(fdt, size));
	CHECK(fdt_finish_reservemap(fdt));
	CHECK(fdt_begin_node(fdt, ""));
	CHECK(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
	CHECK(fdt_property_string(fdt, "model", "lkvm"));
	CHECK(fdt_property_cell(fdt, "#address-cells", 2));
	CHECK(fdt_property_cell(fdt, "#size-cells", 2));
	CHECK(fdt_property_cell(fdt, "interrupt-parent", DT_GIC_PHANDLE));

	if (dt_chosen(fdt, d, e))
		return -1;
	snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)d->ram_base);
	CHECK(fdt_begin_node(fdt, name));
	CHECK(fdt_property_string(fdt, "device_type", "memory"));
	CHECK(prop_reg(fdt, d->ram_base, d->ram_size));
	CHECK(fdt_end_node(fdt));
	if (dt_cpus(fdt, d, e) || dt_gic(fdt, d, e) || dt_timer_psci(fdt, d, e) ||
	    dt_pmu(fdt, d, e) || dt_devices(fdt, d, e))
		return -1;
	CHECK(fdt_end_node(fdt));
	CHECK(fdt_finish(fdt));
	return 0;
}

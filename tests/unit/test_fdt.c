// SPDX-License-Identifier: GPL-2.0
/* arm/fdt.c: the guest device tree, read back with libfdt. */
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "dt.h"
#include "test.h"
#include "uart8250.h"
#include "util.h"

#define DTB_SIZE SZ_64K
#define RAM_BASE 0x80000000ULL
#define UART_BASE 0x01000000ULL
#define VIRTIO_BASE 0x0a000000ULL

static const uint64_t two_mpidrs[] = { 0x80000000, 0x80000001 };

/* A machine like the one arm/kvm.c describes, with a UART and a virtio device. */
struct fixture {
	struct uart8250 uart;
	struct mmio_dev virtio;
	struct mmio_dev hidden; /* no compatible: must not appear */
	struct mmio_bus bus;
	struct arm_dt_desc d;
	void *fdt;
};

static const struct mmio_ops no_ops;

static bool fixture_init(struct fixture *f, enum irqchip_type gic)
{
	struct lkvm_err e = { "" };

	memset(f, 0, sizeof(*f));
	uart8250_init(&f->uart, UART_BASE, -1, NULL, NULL);
	f->uart.mdev.dt.irq = 0;
	f->virtio = (struct mmio_dev){
		.base = VIRTIO_BASE,
		.size = 0x200,
		.ops = &no_ops,
		.dt = { .name = "virtio", .compatible = "virtio,mmio", .has_irq = true, .irq = 1,
			.irq_edge = true, .dma_coherent = true },
	};
	f->hidden = (struct mmio_dev){ .base = 0x0b000000, .size = 0x1000, .ops = &no_ops,
				       .dt = { .name = "hidden" } };
	if (!CHECK(mmio_bus_register(&f->bus, &f->uart.mdev, &e) == 0) ||
	    !CHECK(mmio_bus_register(&f->bus, &f->virtio, &e) == 0) ||
	    !CHECK(mmio_bus_register(&f->bus, &f->hidden, &e) == 0))
		return false;
	f->d = (struct arm_dt_desc){
		.ram_base = RAM_BASE,
		.ram_size = SZ_256M,
		.nr_cpus = 2,
		.mpidr = two_mpidrs,
		.gic = gic,
		.gic_dist_base = 0x08000000,
		.gic_dist_size = 0x10000,
		.gic_redist_base = 0x080a0000,
		.gic_redist_size = 2 * 0x20000,
		.gic_cpu_base = 0x08010000,
		.gic_cpu_size = 0x2000,
		.bus = &f->bus,
		.bootargs = "console=ttyS0 root=/dev/vda rw",
		.initrd_start = 0x8e000000,
		.initrd_end = 0x8e123456,
	};
	f->fdt = malloc(DTB_SIZE);
	return CHECK(f->fdt != NULL);
}

static bool fixture_build(struct fixture *f)
{
	struct lkvm_err e = { "" };

	if (arm_dt_build(&f->d, f->fdt, DTB_SIZE, &e)) {
		test_fail(__FILE__, __LINE__, "arm_dt_build: %s", e.msg);
		return false;
	}
	return CHECK_EQ_U64(fdt_check_header(f->fdt), 0) &&
	       CHECK(fdt_totalsize(f->fdt) <= DTB_SIZE) &&
	       CHECK_EQ_U64(fdt_check_full(f->fdt, DTB_SIZE), 0);
}

static void fixture_exit(struct fixture *f)
{
	uart8250_exit(&f->uart);
	free(f->fdt);
}

/* The property, or NULL after recording why; *len is its length. */
static const void *prop(const void *fdt, const char *path, const char *name, int *len)
{
	int node = fdt_path_offset(fdt, path);
	const void *p;

	if (node < 0) {
		test_fail(__FILE__, __LINE__, "no node %s: %s", path, fdt_strerror(node));
		return NULL;
	}
	p = fdt_getprop(fdt, node, name, len);
	if (!p)
		test_fail(__FILE__, __LINE__, "no property %s in %s", name, path);
	return p;
}

static bool has_prop(const void *fdt, const char *path, const char *name)
{
	int node = fdt_path_offset(fdt, path);

	return node >= 0 && fdt_getprop(fdt, node, name, NULL) != NULL;
}

static const char *prop_str(const void *fdt, const char *path, const char *name)
{
	int len;
	const char *s = prop(fdt, path, name, &len);

	/* NUL-terminated within the property */
	if (!s || len < 1 || s[len - 1] != 0)
		return NULL;
	return s;
}

/* The property's cells must be exactly want[0..n). */
static bool prop_cells(const void *fdt, const char *path, const char *name, const uint32_t *want,
		       int n)
{
	int len, i;
	const fdt32_t *p = prop(fdt, path, name, &len);

	if (!p)
		return false;
	if (len != n * 4) {
		test_fail(__FILE__, __LINE__, "%s %s is %d bytes, not %d", path, name, len, n * 4);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (fdt32_ld(&p[i]) != want[i]) {
			test_fail(__FILE__, __LINE__, "%s %s cell %d is 0x%x, not 0x%x", path, name, i,
				  fdt32_ld(&p[i]), want[i]);
			return false;
		}
	}
	return true;
}

static uint64_t prop_u64(const void *fdt, const char *path, const char *name)
{
	int len;
	const fdt64_t *p = prop(fdt, path, name, &len);

	if (!p || len != 8) {
		test_fail(__FILE__, __LINE__, "%s %s is not one 64-bit value", path, name);
		return ~0ULL;
	}
	return fdt64_ld(p);
}

/* reg of <2 2> cells as (base, size) pairs */
static bool reg_pairs(const void *fdt, const char *path, const uint64_t *want, int pairs)
{
	int len, i;
	const fdt64_t *p = prop(fdt, path, "reg", &len);

	if (!p)
		return false;
	if (len != pairs * 16) {
		test_fail(__FILE__, __LINE__, "%s reg is %d bytes, not %d", path, len, pairs * 16);
		return false;
	}
	for (i = 0; i < 2 * pairs; i++) {
		if (fdt64_ld(&p[i]) != want[i]) {
			test_fail(__FILE__, __LINE__, "%s reg[%d] is 0x%llx, not 0x%llx", path, i,
				  (unsigned long long)fdt64_ld(&p[i]), (unsigned long long)want[i]);
			return false;
		}
	}
	return true;
}

TEST(fdt, root_memory_chosen)
{
	struct fixture f;
	uint32_t two = 2, one = 1;

	if (!fixture_init(&f, IRQCHIP_GICV3) || !fixture_build(&f))
		goto out;
	CHECK_STR(prop_str(f.fdt, "/", "compatible"), "linux,dummy-virt");
	CHECK(prop_cells(f.fdt, "/", "#address-cells", &two, 1));
	CHECK(prop_cells(f.fdt, "/", "#size-cells", &two, 1));
	CHECK(prop_cells(f.fdt, "/", "interrupt-parent", &one, 1));

	CHECK_STR(prop_str(f.fdt, "/memory@80000000", "device_type"), "memory");
	CHECK(reg_pairs(f.fdt, "/memory@80000000", (const uint64_t[]){ RAM_BASE, SZ_256M }, 1));

	CHECK_STR(prop_str(f.fdt, "/chosen", "bootargs"), "console=ttyS0 root=/dev/vda rw");
	CHECK_STR(prop_str(f.fdt, "/chosen", "stdout-path"), "/uart@1000000");
	CHECK_STR(prop_str(f.fdt, "/aliases", "serial0"), "/uart@1000000");
	/* 64-bit values: an initrd above 4 GiB must not be truncated */
	CHECK_EQ_U64(prop_u64(f.fdt, "/chosen", "linux,initrd-start"), 0x8e000000);
	CHECK_EQ_U64(prop_u64(f.fdt, "/chosen", "linux,initrd-end"), 0x8e123456);
out:
	fixture_exit(&f);
}

TEST(fdt, no_initrd_no_bootargs)
{
	struct fixture f;

	if (!fixture_init(&f, IRQCHIP_GICV3))
		goto out;
	f.d.initrd_start = f.d.initrd_end = 0;
	f.d.bootargs = NULL;
	if (!fixture_build(&f))
		goto out;
	CHECK_STR(prop_str(f.fdt, "/chosen", "bootargs"), "");
	CHECK(!has_prop(f.fdt, "/chosen", "linux,initrd-start"));
	CHECK(!has_prop(f.fdt, "/chosen", "linux,initrd-end"));
out:
	fixture_exit(&f);
}

/* cpu reg is the MPIDR affinity: bit 31 (RES1) must not leak into it */
TEST(fdt, cpus_and_psci)
{
	struct fixture f;
	uint32_t zero = 0, one = 1;

	if (!fixture_init(&f, IRQCHIP_GICV3) || !fixture_build(&f))
		goto out;
	CHECK(prop_cells(f.fdt, "/cpus", "#address-cells", &one, 1));
	CHECK(prop_cells(f.fdt, "/cpus", "#size-cells", &zero, 1));
	CHECK(prop_cells(f.fdt, "/cpus/cpu@0", "reg", &zero, 1));
	CHECK(prop_cells(f.fdt, "/cpus/cpu@1", "reg", &one, 1));
	CHECK_STR(prop_str(f.fdt, "/cpus/cpu@0", "enable-method"), "psci");
	CHECK_STR(prop_str(f.fdt, "/cpus/cpu@1", "enable-method"), "psci");
	CHECK_STR(prop_str(f.fdt, "/cpus/cpu@0", "device_type"), "cpu");
	CHECK_STR(prop_str(f.fdt, "/cpus/cpu@0", "compatible"), "arm,arm-v8");
	CHECK(fdt_path_offset(f.fdt, "/cpus/cpu@2") < 0);
	CHECK_STR(prop_str(f.fdt, "/psci", "method"), "hvc");
	/* first string of the compatible list */
	CHECK_STR(prop_str(f.fdt, "/psci", "compatible"), "arm,psci-0.2");
out:
	fixture_exit(&f);
}

TEST(fdt, cpu_affinity_levels)
{
	static const uint64_t mpidr[] = { 0x80000000, 0x80000100, 0x80010203 };
	struct fixture f;
	uint32_t want;

	if (!fixture_init(&f, IRQCHIP_GICV3))
		goto out;
	f.d.nr_cpus = 3;
	f.d.mpidr = mpidr;
	f.d.aarch32 = true;
	if (!fixture_build(&f))
		goto out;
	want = 0x100;
	CHECK(prop_cells(f.fdt, "/cpus/cpu@100", "reg", &want, 1));
	want = 0x10203;
	CHECK(prop_cells(f.fdt, "/cpus/cpu@10203", "reg", &want, 1));
	CHECK_STR(prop_str(f.fdt, "/cpus/cpu@0", "compatible"), "arm,cortex-a15");
out:
	fixture_exit(&f);
}

TEST(fdt, gicv3)
{
	static const uint64_t reg[] = { 0x08000000, 0x10000, 0x080a0000, 0x40000 };
	static const uint32_t timer[] = { 1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4 };
	struct fixture f;
	uint32_t one = 1, three = 3;

	if (!fixture_init(&f, IRQCHIP_GICV3) || !fixture_build(&f))
		goto out;
	CHECK_STR(prop_str(f.fdt, "/intc@8000000", "compatible"), "arm,gic-v3");
	CHECK(reg_pairs(f.fdt, "/intc@8000000", reg, 2));
	CHECK(prop_cells(f.fdt, "/intc@8000000", "phandle", &one, 1));
	CHECK(prop_cells(f.fdt, "/intc@8000000", "#interrupt-cells", &three, 1));
	CHECK(has_prop(f.fdt, "/intc@8000000", "interrupt-controller"));
	CHECK_EQ_U64(fdt_node_offset_by_phandle(f.fdt, 1), fdt_path_offset(f.fdt, "/intc@8000000"));
	/* GICv3 PPIs carry no CPU mask */
	CHECK(prop_cells(f.fdt, "/timer", "interrupts", timer, 12));
out:
	fixture_exit(&f);
}

TEST(fdt, gicv2)
{
	static const uint64_t reg[] = { 0x08000000, 0x10000, 0x08010000, 0x2000 };
	/* level high (4) | CPU mask 0b11 << 8 for 2 CPUs */
	static const uint32_t timer[] = { 1, 13, 0x304, 1, 14, 0x304, 1, 11, 0x304, 1, 10, 0x304 };
	struct fixture f;
	uint32_t one = 1;

	if (!fixture_init(&f, IRQCHIP_GICV2) || !fixture_build(&f))
		goto out;
	CHECK_STR(prop_str(f.fdt, "/intc@8000000", "compatible"), "arm,cortex-a15-gic");
	CHECK(reg_pairs(f.fdt, "/intc@8000000", reg, 2));
	CHECK(prop_cells(f.fdt, "/intc@8000000", "phandle", &one, 1));
	CHECK(prop_cells(f.fdt, "/timer", "interrupts", timer, 12));
out:
	fixture_exit(&f);
}

/* the GICv2 CPU mask has 8 bits: 8 or more CPUs give 0xff, never a shift past it */
TEST(fdt, gicv2_eight_cpus_mask)
{
	static uint64_t mpidr[8];
	struct fixture f;
	unsigned int i;
	int len;
	const fdt32_t *p;

	for (i = 0; i < 8; i++)
		mpidr[i] = 0x80000000 | i;
	if (!fixture_init(&f, IRQCHIP_GICV2))
		goto out;
	f.d.nr_cpus = 8;
	f.d.mpidr = mpidr;
	if (!fixture_build(&f))
		goto out;
	p = prop(f.fdt, "/timer", "interrupts", &len);
	if (CHECK(p && len == 48))
		CHECK_EQ_U64(fdt32_ld(&p[2]), 0xff04);
out:
	fixture_exit(&f);
}

TEST(fdt, devices)
{
	static const uint32_t uart_irq[] = { 0, 0, 4 };
	static const uint32_t virtio_irq[] = { 0, 1, 1 };
	struct fixture f;
	uint32_t clk = 1843200;

	if (!fixture_init(&f, IRQCHIP_GICV3) || !fixture_build(&f))
		goto out;
	CHECK_STR(prop_str(f.fdt, "/uart@1000000", "compatible"), "ns16550a");
	CHECK(reg_pairs(f.fdt, "/uart@1000000", (const uint64_t[]){ UART_BASE, 0x1000 }, 1));
	CHECK(prop_cells(f.fdt, "/uart@1000000", "clock-frequency", &clk, 1));
	CHECK(prop_cells(f.fdt, "/uart@1000000", "interrupts", uart_irq, 3));
	CHECK(!has_prop(f.fdt, "/uart@1000000", "dma-coherent"));

	CHECK_STR(prop_str(f.fdt, "/virtio@a000000", "compatible"), "virtio,mmio");
	CHECK(reg_pairs(f.fdt, "/virtio@a000000", (const uint64_t[]){ VIRTIO_BASE, 0x200 }, 1));
	CHECK(prop_cells(f.fdt, "/virtio@a000000", "interrupts", virtio_irq, 3));
	CHECK(has_prop(f.fdt, "/virtio@a000000", "dma-coherent"));
	CHECK(!has_prop(f.fdt, "/virtio@a000000", "clock-frequency"));

	CHECK(fdt_path_offset(f.fdt, "/hidden@b000000") < 0);
out:
	fixture_exit(&f);
}

/* a level-triggered virtio irq gets flags 4 */
TEST(fdt, device_level_irq)
{
	static const uint32_t virtio_irq[] = { 0, 1, 4 };
	struct fixture f;

	if (!fixture_init(&f, IRQCHIP_GICV3))
		goto out;
	f.virtio.dt.irq_edge = false;
	if (!fixture_build(&f))
		goto out;
	CHECK(prop_cells(f.fdt, "/virtio@a000000", "interrupts", virtio_irq, 3));
out:
	fixture_exit(&f);
}

/* no console on the bus: no stdout-path pointing nowhere */
TEST(fdt, no_console)
{
	struct fixture f;

	if (!fixture_init(&f, IRQCHIP_GICV3))
		goto out;
	f.uart.mdev.dt.stdout_path = false;
	if (!fixture_build(&f))
		goto out;
	CHECK(!has_prop(f.fdt, "/chosen", "stdout-path"));
	CHECK(fdt_path_offset(f.fdt, "/aliases") < 0);
	CHECK(fdt_path_offset(f.fdt, "/uart@1000000") >= 0);
out:
	fixture_exit(&f);
}

/* too small a buffer: -1 and a message, never a write past it (ASan) */
TEST(fdt, small_buffer)
{
	struct fixture f;
	struct lkvm_err e = { "" };
	uint8_t *small = malloc(256);

	if (fixture_init(&f, IRQCHIP_GICV3) && CHECK(small)) {
		CHECK(arm_dt_build(&f.d, small, 256, &e) == -1);
		CHECK_CONTAINS(e.msg, "device tree");
	}
	fixture_exit(&f);
	free(small);
}

/* every size up to the real one fails cleanly; the first that fits is valid */
TEST(fdt, every_buffer_size)
{
	struct fixture f;
	struct lkvm_err e;
	size_t size, need;

	if (!fixture_init(&f, IRQCHIP_GICV2) || !fixture_build(&f))
		goto out;
	need = fdt_totalsize(f.fdt);
	for (size = 0; size <= need; size++) {
		uint8_t *buf = malloc(size ? size : 1);
		int r;

		if (!CHECK(buf))
			break;
		e.msg[0] = 0;
		r = arm_dt_build(&f.d, buf, size, &e);
		if (size < need && (r != -1 || !e.msg[0]))
			test_fail(__FILE__, __LINE__, "size %zu: returned %d, msg \"%s\"", size, r, e.msg);
		if (size == need && (r != 0 || fdt_check_full(buf, size) != 0))
			test_fail(__FILE__, __LINE__, "size %zu (exact): returned %d: %s", size, r, e.msg);
		free(buf);
	}
out:
	fixture_exit(&f);
}

/* --irqchip gicv3-its: the ITS is a child of the GICv3 node, 1:1 ranges */
TEST(fdt, gicv3_its)
{
	static const uint64_t its_reg[] = { 0x08080000, 0x20000 };
	struct fixture f;
	uint32_t one = 1, two = 2;

	if (!fixture_init(&f, IRQCHIP_GICV3))
		goto out;
	f.d.its_base = 0x08080000;
	f.d.its_size = 0x20000;
	if (!fixture_build(&f))
		goto out;
	CHECK(has_prop(f.fdt, "/intc@8000000", "ranges"));
	CHECK_STR(prop_str(f.fdt, "/intc@8000000/msi-controller@8080000", "compatible"),
		  "arm,gic-v3-its");
	CHECK(has_prop(f.fdt, "/intc@8000000/msi-controller@8080000", "msi-controller"));
	CHECK(prop_cells(f.fdt, "/intc@8000000/msi-controller@8080000", "#msi-cells", &one, 1));
	CHECK(reg_pairs(f.fdt, "/intc@8000000/msi-controller@8080000", its_reg, 1));
	CHECK(prop_cells(f.fdt, "/intc@8000000/msi-controller@8080000", "phandle", &two, 1));
	/* none without it, nor on a GICv2 */
	CHECK(fdt_path_offset(f.fdt, "/pmu") < 0);
out:
	fixture_exit(&f);
	if (!fixture_init(&f, IRQCHIP_GICV3) || !fixture_build(&f))
		goto out2;
	CHECK(fdt_path_offset(f.fdt, "/intc@8000000/msi-controller@8080000") < 0);
	CHECK(!has_prop(f.fdt, "/intc@8000000", "ranges"));
out2:
	fixture_exit(&f);
}

/* --pmu: arm,armv8-pmuv3 on PPI 7, level high (with the CPU mask on a GICv2) */
TEST(fdt, pmu)
{
	static const uint32_t v3[] = { 1, 7, 4 }, v2[] = { 1, 7, 0x304 };
	struct fixture f;

	if (!fixture_init(&f, IRQCHIP_GICV3))
		goto out;
	f.d.pmu = true;
	f.d.pmu_ppi = 7;
	if (!fixture_build(&f))
		goto out;
	CHECK_STR(prop_str(f.fdt, "/pmu", "compatible"), "arm,armv8-pmuv3");
	CHECK(prop_cells(f.fdt, "/pmu", "interrupts", v3, 3));
out:
	fixture_exit(&f);
	if (!fixture_init(&f, IRQCHIP_GICV2))
		goto out2;
	f.d.pmu = true;
	f.d.pmu_ppi = 7;
	if (fixture_build(&f))
		CHECK(prop_cells(f.fdt, "/pmu", "interrupts", v2, 3));
out2:
	fixture_exit(&f);
}

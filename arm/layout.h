/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_ARM_LAYOUT_H
#define LKVM_ARM_LAYOUT_H

/*
 * Guest physical map (arm64 and AArch32 guests):
 *   0x0100_0000  8250 UART (one page)
 *   0x0800_0000  GIC distributor (64 KiB)
 *   0x0801_0000  GICv2 CPU interface (8 KiB, 64 KiB aligned for 64K-page hosts)
 *   0x0808_0000  GICv3 ITS (128 KiB: control and translation frames)
 *   0x080a_0000  GICv3 redistributors, 128 KiB per vCPU, up to 0x0900_0000
 *   0x0a00_0000  virtio-mmio devices, 512 bytes each
 *   0x8000_0000  RAM
 */
#define ARM_UART_BASE 0x01000000ULL
#define ARM_GIC_DIST_BASE 0x08000000ULL
#define ARM_GIC_DIST_SIZE 0x10000ULL
#define ARM_GIC_CPU_BASE 0x08010000ULL
#define ARM_GIC_CPU_SIZE 0x2000ULL
#define ARM_GIC_ITS_BASE 0x08080000ULL
#define ARM_GIC_ITS_SIZE 0x20000ULL
#define ARM_GIC_REDIST_BASE 0x080a0000ULL
#define ARM_GIC_REDIST_STRIDE 0x20000ULL
#define ARM_GIC_REDIST_LIMIT 0x09000000ULL
#define ARM_VIRTIO_MMIO_BASE 0x0a000000ULL
#define ARM_VIRTIO_MMIO_SLOTS 32
#define ARM_RAM_BASE 0x80000000ULL

/* the PMUv3 overflow interrupt: PPI 7 (INTID 23), as on QEMU's virt */
#define ARM_PMU_PPI 7
#define ARM_GICV2_MAX_CPUS 8
#define ARM_GICV3_MAX_CPUS ((ARM_GIC_REDIST_LIMIT - ARM_GIC_REDIST_BASE) / ARM_GIC_REDIST_STRIDE)

#endif

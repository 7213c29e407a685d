/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_CONFIG_H
#define LKVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "virtio.h"

enum irqchip_type {
	IRQCHIP_GICV3 = 0,
	IRQCHIP_GICV2,
};

enum console_type {
	CONSOLE_SERIAL = 0,
	CONSOLE_VIRTIO,
};

#define CONFIG_MAX_DISKS 8
#define CONFIG_MAX_9P 4
#define CONFIG_MAX_NETS 4

/* What `lkvm run` was asked to do; filled by run.c from the command line. */
struct vm_config {
	const char *kernel_path;
	const char *initrd_path;
	const char *cmdline;
	const char *dump_dtb;
	uint64_t ram_size;
	unsigned int nr_cpus;
	bool aarch32;
	enum irqchip_type irqchip;
	bool its;  /* --irqchip gicv3-its: a vITS beside the GICv3 */
	bool pmu;  /* --pmu: PMUv3 in every vCPU */
	enum console_type console;
	enum log_level loglevel;
	const char *disks[CONFIG_MAX_DISKS]; /* -d specs: FILE[,ro][,direct] */
	unsigned int nr_disks;
	const char *p9[CONFIG_MAX_9P]; /* --9p specs: DIR,TAG[,ro] */
	unsigned int nr_p9;
	bool rng;
	bool no_ioeventfd; /* debug: QueueNotify traps to lkvm */
	bool no_irqfd;     /* debug: interrupts by KVM_IRQ_LINE */
	bool no_seccomp;   /* debug: no seccomp filter */
	enum virtio_transport transport;
	enum virtio_endian_offer endian_offer;
	enum vq_endian endian_force; /* 0: follow the rules */
	const char *name;        /* --name: the control socket's name */
	unsigned int timeout_s;  /* --timeout: 0 = none */
	const char *console_log; /* --console-log FILE */
	bool nodefaults;         /* the kernel command line is the user's alone */
	const char *nets[CONFIG_MAX_NETS]; /* -n specs: mode=user|tap|none,... */
	unsigned int nr_nets;
};

#endif

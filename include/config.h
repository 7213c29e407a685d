/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_CONFIG_H
#define LKVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

enum irqchip_type {
	IRQCHIP_GICV3 = 0,
	IRQCHIP_GICV2,
};

enum console_type {
	CONSOLE_SERIAL = 0,
};

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
	enum console_type console;
	enum log_level loglevel;
};

#endif

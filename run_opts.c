// SPDX-License-Identifier: GPL-2.0
/* `lkvm run` options: the table, --help, and parsing into struct vm_config. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "net.h"
#include "run.h"
#include "seccomp_filter.h"
#include "util.h"
#include "vm.h"

#define DEFAULT_RAM_MIB 256
#define RUN_SHORT_OPTS "k:i:p:m:c:d:n:h"

enum {
	OPT_CONSOLE = 0x100,
	OPT_AARCH32,
	OPT_IRQCHIP,
	OPT_DUMP_DTB,
	OPT_LOGLEVEL,
	OPT_RNG,
	OPT_9P,
	OPT_TRANSPORT,
	OPT_ENDIAN_OFFER,
	OPT_ENDIAN_FORCE,
	OPT_NO_IOEVENTFD,
	OPT_NO_IRQFD,
	OPT_NO_SECCOMP,
	OPT_NAME,
	OPT_TIMEOUT,
	OPT_CONSOLE_LOG,
	OPT_NODEFAULTS,
	OPT_NETWORK_NONE,
	OPT_DEBUG,
	OPT_VIRTIO_LEGACY,
	OPT_PMU,
	/* kvmtool options lkvm does not have: OPT_KVMTOOL_ONLY + index */
	OPT_KVMTOOL_ONLY = 0x200,
};

/*
 * kvmtool's `run` options that lkvm does not have: each gets one line that
 * says so (not "unknown option"), for users' kvmtool command lines.
 */
static const char *const kvmtool_only[] = {
	"balloon", "vnc", "gtk", "sdl", "vsock", "dev", "tty", "sandbox", "hugetlbfs",
	"firmware", "flash", "no-dhcp", "vfio-pci", "debug-single-step", "debug-ioport",
	"debug-mmio", "debug-iodelay", "override-bad-firmware-cntfrq", "force-pci",
	"firmware-address", "disable-mte", "vcpu-affinity", "kaslr-seed", "no-pvtime",
	"sve-max-vl", "nested",
};


static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "params", required_argument, NULL, 'p' },
	{ "mem", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "aarch32", no_argument, NULL, OPT_AARCH32 },
	{ "irqchip", required_argument, NULL, OPT_IRQCHIP },
	{ "dump-dtb", required_argument, NULL, OPT_DUMP_DTB },
	{ "loglevel", required_argument, NULL, OPT_LOGLEVEL },
	{ "disk", required_argument, NULL, 'd' },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "no-ioeventfd", no_argument, NULL, OPT_NO_IOEVENTFD },
	{ "no-irqfd", no_argument, NULL, OPT_NO_IRQFD },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "9p", required_argument, NULL, OPT_9P },
	{ "network", required_argument, NULL, 'n' },
	{ "virtio-transport", required_argument, NULL, OPT_TRANSPORT },
	{ "ring-endian-offer", required_argument, NULL, OPT_ENDIAN_OFFER },
	{ "debug-ring-endian", required_argument, NULL, OPT_ENDIAN_FORCE },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "console-log", required_argument, NULL, OPT_CONSOLE_LOG },
	{ "nodefaults", no_argument, NULL, OPT_NODEFAULTS },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "virtio-legacy", no_argument, NULL, OPT_VIRTIO_LEGACY },
	{ "help", no_argument, NULL, 'h' },
	/* kvmtool_only[], in order; a value is taken so "--tty 0" names --tty */
	{ "balloon", no_argument, NULL, OPT_KVMTOOL_ONLY + 0 },
	{ "vnc", no_argument, NULL, OPT_KVMTOOL_ONLY + 1 },
	{ "gtk", no_argument, NULL, OPT_KVMTOOL_ONLY + 2 },
	{ "sdl", no_argument, NULL, OPT_KVMTOOL_ONLY + 3 },
	{ "vsock", required_argument, NULL, OPT_KVMTOOL_ONLY + 4 },
	{ "dev", required_argument, NULL, OPT_KVMTOOL_ONLY + 5 },
	{ "tty", required_argument, NULL, OPT_KVMTOOL_ONLY + 6 },
	{ "sandbox", required_argument, NULL, OPT_KVMTOOL_ONLY + 7 },
	{ "hugetlbfs", required_argument, NULL, OPT_KVMTOOL_ONLY + 8 },
	{ "firmware", required_argument, NULL, OPT_KVMTOOL_ONLY + 9 },
	{ "flash", required_argument, NULL, OPT_KVMTOOL_ONLY + 10 },
	{ "no-dhcp", no_argument, NULL, OPT_KVMTOOL_ONLY + 11 },
	{ "vfio-pci", required_argument, NULL, OPT_KVMTOOL_ONLY + 12 },
	{ "debug-single-step", no_argument, NULL, OPT_KVMTOOL_ONLY + 13 },
	{ "debug-ioport", no_argument, NULL, OPT_KVMTOOL_ONLY + 14 },
	{ "debug-mmio", no_argument, NULL, OPT_KVMTOOL_ONLY + 15 },
	{ "debug-iodelay", required_argument, NULL, OPT_KVMTOOL_ONLY + 16 },
	{ "override-bad-firmware-cntfrq", required_argument, NULL, OPT_KVMTOOL_ONLY + 17 },
	{ "force-pci", no_argument, NULL, OPT_KVMTOOL_ONLY + 18 },
	{ "firmware-address", required_argument, NULL, OPT_KVMTOOL_ONLY + 19 },
	{ "disable-mte", no_argument, NULL, OPT_KVMTOOL_ONLY + 20 },
	{ "vcpu-affinity", required_argument, NULL, OPT_KVMTOOL_ONLY + 21 },
	{ "kaslr-seed", required_argument, NULL, OPT_KVMTOOL_ONLY + 22 },
	{ "no-pvtime", no_argument, NULL, OPT_KVMTOOL_ONLY + 23 },
	{ "sve-max-vl", required_argument, NULL, OPT_KVMTOOL_ONLY + 24 },
	{ "nested", no_argument, NULL, OPT_KVMTOOL_ONLY + 25 },
	{ "pmu", no_argument, NULL, OPT_PMU },
	{ NULL, 0, NULL, 0 },
};

void run_usage(FILE *f)
{
	fprintf(f,
		"usage: lkvm run -k KERNEL [options]\n"
		"\n"
		"Boots a Linux guest of either byte order: an arm64 Image (LE or BE, may be\n"
		"gzipped) or, with --aarch32, an arm zImage (LE or BE8).\n"
		"\n"
		"  -k, --kernel FILE      kernel image\n"
		"  -i, --initrd FILE      initial ramdisk\n"
		"  -p, --params ARGS      kernel command line (console=ttyS0 is added when\n"
		"                         ARGS has no console=, and panic=-1\n"
		"                         reboot=panic_warm: a panic ends lkvm, exit 3)\n"
		"  -m, --mem SIZE         guest RAM, MiB unless suffixed K, M, G or T (default %d)\n"
		"  -c, --cpus N           number of vCPUs (default 1)\n"
		"  -d, --disk FILE[,ro][,direct][,format=raw|qcow2]\n"
		"                         a virtio-blk disk: raw file, qcow2 image (format from\n"
		"                         the file unless given) or block device; ro: read-only,\n"
		"                         never opened for writing; direct: O_DIRECT with libaio;\n"
		"                         writable images are locked; repeat for more (max %d).\n"
		"                         A directory is the guest's root over virtio-9p\n"
		"                         (rootfstype=9p; DIR/virt/init runs if it exists)\n"
		"      --9p DIR[,TAG[,ro][,setid][,owners]]\n"
		"                         share host directory DIR as 9P2000.L mount tag TAG\n"
		"                         (default kvm_9p, as kvmtool)\n"
		"                         (mount -t 9p -o trans=virtio TAG /mnt); the guest\n"
		"                         never reaches outside DIR; ro: read-only; max %d.\n"
		"                         The guest's set-uid/gid bits are dropped unless\n"
		"                         setid; new files are lkvm's user's and chown is\n"
		"                         ignored unless owners (lkvm as root only)\n"
		"  -n, --network mode=user|tap|none[,guest_mac=MAC][,...]\n"
		"                         a virtio-net NIC (eth0, eth1...; max %d):\n"
		"                         user: libslirp, no privileges: 10.0.2.15 by DHCP,\n"
		"                         gateway and host loopback 10.0.2.2, DNS 10.0.2.3;\n"
		"                         ,hostfwd=tcp|udp:[HOSTADDR:]PORT-[GUESTADDR]:PORT\n"
		"                         (repeatable) lets the host connect in%s\n"
		"                         tap: ,tapif=NAME (created, or attached if it exists)\n"
		"                         ,host_ip=ADDR[/LEN] (set on the tap, brought up)\n"
		"                         none: a NIC with no link\n"
		"      --rng              a virtio-rng device fed by the host's getrandom\n"
		"      --console TYPE     serial: the 8250 UART, ttyS0 (default);\n"
		"                         virtio (or hv): virtio-console, hvc0 (the UART\n"
		"                         stays for earlycon)\n"
		"      --virtio-transport mmio | mmio-legacy\n"
		"                         virtio-mmio version 2 (default, little-endian rings)\n"
		"                         or version 1 (rings in the guest's byte order)\n"
		"      --ring-endian-offer both | le | be | none\n"
		"                         legacy only: which of VIRTIO_RING_F_GUEST_LE (44) and\n"
		"                         _BE (45) to offer (default both)\n"
		"      --debug-ring-endian le | be\n"
		"                         debug: force every queue's byte order\n"
		"      --no-ioeventfd     debug: virtio kicks trap to lkvm (MMIO exits) instead\n"
		"                         of KVM_IOEVENTFD\n"
		"      --no-irqfd         debug: virtio interrupts by KVM_IRQ_LINE instead of\n"
		"                         KVM_IRQFD\n"
		"      --no-seccomp       debug: no seccomp filter (by default a syscall lkvm\n"
		"                         does not use stops it with one line naming it)%s\n"
		"      --aarch32          run a 32-bit ARM guest (zImage) on an arm64 host\n"
		"      --irqchip TYPE     gicv3 (default), gicv3-its (with an ITS) or gicv2\n"
		"      --pmu              a PMUv3 in every vCPU (perf in the guest)\n"
		"      --dump-dtb FILE    write the generated device tree to FILE and exit\n"
		"                         without running the guest\n"
		"      --loglevel LEVEL   error, warn (default; or warning), info or debug\n"
		"      --name NAME        the VM's name for lkvm list/stop/pause/resume/debug/stat\n"
		"                         (default guest-PID)\n"
		"      --timeout SECONDS  stop the guest after SECONDS; lkvm then exits 124\n"
		"      --console-log FILE also write everything the guest prints to FILE\n"
		"      --nodefaults       the kernel command line is ARGS alone: nothing is\n"
		"                         added (no console=, no 9p root=); lkvm adds no\n"
		"                         device you did not ask for besides the UART\n"
		"      --debug            --loglevel debug (kvmtool's spelling)\n"
		"      --virtio-legacy    --virtio-transport mmio-legacy (kvmtool's spelling)\n"
		"  -h, --help             this help\n"
		"\n"
		"The console is stdin/stdout; on a terminal, Ctrl-A x quits and Ctrl-A Ctrl-A\n"
		"sends Ctrl-A.\n"
		"\n"
		"Exit status:\n"
		"  0    the guest powered off\n"
		"  1    lkvm failed: bad option or input, no KVM, or an error while running\n"
		"  2    the guest reset (rebooted)\n"
		"  3    the guest kernel panicked, or reported a crash\n"
		"  4    stopped from the console (Ctrl-A x) or by lkvm stop\n"
		"  124  --timeout ran out\n"
		"  128+N  stopped by signal N (SIGINT 130, SIGTERM 143)\n",
		DEFAULT_RAM_MIB, CONFIG_MAX_DISKS, CONFIG_MAX_9P, CONFIG_MAX_NETS,
		net_have_user ? "" : " (not in this build: no libslirp)",
		seccomp_built_in ? "" : "\n                         (not in this build: no libseccomp)");
}

int parse_mem_size(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	uint64_t shift = 20;
	char *end;

	/* strtoull would skip blanks and wrap "-1": digits only */
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	/* kvmtool's suffixes: K, M, G, T (a bare number is MiB) */
	if (*end == 'K' || *end == 'k') {
		shift = 10;
		end++;
	} else if (*end == 'M' || *end == 'm') {
		end++;
	} else if (*end == 'G' || *end == 'g') {
		shift = 30;
		end++;
	} else if (*end == 'T' || *end == 't') {
		shift = 40;
		end++;
	}
	if (*end || v == 0 || v > (UINT64_MAX >> shift))
		return -1;
	*bytes = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *s, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 0xffffffffUL)
		return -1;
	*out = v;
	return 0;
}

/* An option whose value is one of a few words. */
struct run_choice {
	const char *word;
	int value;
};

static const struct run_choice console_choices[] = {
	/* hv: kvmtool's name for its hypervisor console; here virtio-console */
	{ "serial", CONSOLE_SERIAL }, { "virtio", CONSOLE_VIRTIO }, { "hv", CONSOLE_VIRTIO },
	{ NULL, 0 },
};
static const struct run_choice transport_choices[] = {
	{ "mmio", VIRTIO_MMIO_MODERN }, { "mmio-legacy", VIRTIO_MMIO_LEGACY }, { NULL, 0 },
};
static const struct run_choice offer_choices[] = {
	{ "both", VIRTIO_OFFER_BOTH }, { "le", VIRTIO_OFFER_LE },
	{ "be", VIRTIO_OFFER_BE },     { "none", VIRTIO_OFFER_NONE }, { NULL, 0 },
};
static const struct run_choice endian_choices[] = {
	{ "le", VQ_LE }, { "be", VQ_BE }, { NULL, 0 },
};
#define RUN_IRQCHIP_GICV3_ITS 0x100 /* a GICv3 with cfg->its */
static const struct run_choice irqchip_choices[] = {
	{ "gicv3", IRQCHIP_GICV3 }, { "gicv2", IRQCHIP_GICV2 },
	{ "gicv3-its", RUN_IRQCHIP_GICV3_ITS }, { NULL, 0 },
};

/* Sets *out from the word; else one error line that lists the words. */
static int run_parse_choice(const char *opt, const char *arg, const struct run_choice *c,
			    int *out, struct lkvm_err *e)
{
	char words[128] = "";
	size_t n = 0;
	int i;

	for (i = 0; c[i].word; i++) {
		if (!strcmp(arg, c[i].word)) {
			*out = c[i].value;
			return 0;
		}
		n += snprintf(words + n, sizeof(words) - n, "%s%s", i ? ", " : "", c[i].word);
		if (n >= sizeof(words))
			n = sizeof(words) - 1;
	}
	return err_set(e, "%s %s: unknown value (%s)", opt, arg, words);
}

/*
 * getopt said '?': name the option as the user wrote it. A long option
 * given a value it does not take comes back with optopt = its value.
 */
static int run_bad_option(const char *arg, int optopt_, struct lkvm_err *e)
{
	/* a long option's value (one of ours, or >= 0x100): it was given "=..." */
	bool long_opt = optopt_ >= 0x100 || (optopt_ > 0 && strchr(RUN_SHORT_OPTS, optopt_));

	if (long_opt && !strncmp(arg, "--", 2) && strchr(arg, '='))
		return err_set(e, "option %.*s takes no value (see lkvm run --help)",
			       (int)(strchr(arg, '=') - arg), arg);
	/*
	 * A short option: by its letter, since inside a cluster (-zc8) arg is
	 * the word before (found by tests/fuzz options).
	 */
	if (optopt_ && optopt_ < 0x100) /* glibc: a negative value for a byte >= 0x80 */
		return err_set(e, "unknown option -%c (see lkvm run --help)",
			       (unsigned char)optopt_);
	return err_set(e, "unknown option %s (see lkvm run --help)", arg);
}

int run_parse_options(int argc, char **argv, struct vm_config *cfg, struct lkvm_err *e)
{
	int v;
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->ram_size = (uint64_t)DEFAULT_RAM_MIB << 20;
	cfg->nr_cpus = 1;
	cfg->loglevel = LOG_WARN;
	/* 0, not 1: glibc also forgets its place inside a group like -zc8 */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" RUN_SHORT_OPTS, run_options, NULL)) != -1) {
		switch (c) {
		case 'k':
			cfg->kernel_path = optarg;
			break;
		case 'i':
			cfg->initrd_path = optarg;
			break;
		case 'p':
			cfg->cmdline = optarg;
			break;
		case 'm':
			if (parse_mem_size(optarg, &cfg->ram_size))
				return err_set(e, "-m %s: not a RAM size (MiB, or with K, M, G or T)", optarg);
			if (cfg->ram_size % SZ_2M)
				return err_set(e, "-m %s: guest RAM must be a multiple of 2 MiB", optarg);
			break;
		case 'c':
			if (parse_uint(optarg, &cfg->nr_cpus) || cfg->nr_cpus == 0 ||
			    cfg->nr_cpus > VM_MAX_VCPUS)
				return err_set(e, "-c %s: the number of vCPUs must be 1 to %d", optarg,
					       VM_MAX_VCPUS);
			break;
		case OPT_CONSOLE:
			if (run_parse_choice("--console", optarg, console_choices, &v, e))
				return -1;
			cfg->console = v;
			break;
		case 'd':
			if (cfg->nr_disks >= CONFIG_MAX_DISKS)
				return err_set(e, "-d %s: too many disks (max %d)", optarg, CONFIG_MAX_DISKS);
			cfg->disks[cfg->nr_disks++] = optarg;
			break;
		case OPT_RNG:
			cfg->rng = true;
			break;
		case OPT_NO_IOEVENTFD:
			cfg->no_ioeventfd = true;
			break;
		case OPT_NO_IRQFD:
			cfg->no_irqfd = true;
			break;
		case OPT_NO_SECCOMP:
			cfg->no_seccomp = true;
			break;
		case 'n': {
			struct net_opts no;

			if (cfg->nr_nets >= CONFIG_MAX_NETS)
				return err_set(e, "-n %s: too many NICs (max %d)", optarg, CONFIG_MAX_NETS);
			if (net_parse_spec(optarg, &no, e))
				return -1;
			cfg->nets[cfg->nr_nets++] = optarg;
			break;
		}
		case OPT_9P:
			if (cfg->nr_p9 >= CONFIG_MAX_9P)
				return err_set(e, "--9p %s: too many shares (max %d)", optarg, CONFIG_MAX_9P);
			cfg->p9[cfg->nr_p9++] = optarg;
			break;
		case OPT_TRANSPORT:
			if (!strcmp(optarg, "pci") || !strcmp(optarg, "pci-legacy"))
				return err_set(e, "--virtio-transport %s: lkvm has virtio-mmio only (mmio, mmio-legacy)",
					       optarg);
			if (run_parse_choice("--virtio-transport", optarg, transport_choices, &v, e))
				return -1;
			cfg->transport = v;
			break;
		case OPT_ENDIAN_OFFER:
			if (run_parse_choice("--ring-endian-offer", optarg, offer_choices, &v, e))
				return -1;
			cfg->endian_offer = v;
			break;
		case OPT_ENDIAN_FORCE:
			if (run_parse_choice("--debug-ring-endian", optarg, endian_choices, &v, e))
				return -1;
			cfg->endian_force = v;
			break;
		case OPT_AARCH32:
			cfg->aarch32 = true;
			break;
		case OPT_NAME:
			if (!control_name_ok(optarg))
				return err_set(e, "--name %s: letters, digits, '.', '_' and '-' only, at most %d",
					       optarg, CONTROL_NAME_MAX);
			cfg->name = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_uint(optarg, &cfg->timeout_s) || !cfg->timeout_s)
				return err_set(e, "--timeout %s: want a number of seconds > 0", optarg);
			break;
		case OPT_CONSOLE_LOG:
			cfg->console_log = optarg;
			break;
		case OPT_NODEFAULTS:
			cfg->nodefaults = true;
			break;
		case OPT_DEBUG:
			cfg->loglevel = LOG_DEBUG;
			break;
		case OPT_VIRTIO_LEGACY:
			cfg->transport = VIRTIO_MMIO_LEGACY;
			break;
		case OPT_PMU:
			cfg->pmu = true;
			break;
		case OPT_IRQCHIP:
			if (!strcmp(optarg, "gicv2m"))
				return err_set(e, "--irqchip gicv2m: not in lkvm (gicv2, gicv3, gicv3-its)");
			if (run_parse_choice("--irqchip", optarg, irqchip_choices, &v, e))
				return -1;
			cfg->its = v == RUN_IRQCHIP_GICV3_ITS;
			cfg->irqchip = cfg->its ? IRQCHIP_GICV3 : v;
			break;
		case OPT_DUMP_DTB:
			cfg->dump_dtb = optarg;
			break;
		case OPT_LOGLEVEL:
			if (log_parse_level(optarg, &cfg->loglevel))
				return err_set(e, "--loglevel %s: unknown level (error, warn or warning, info, debug)",
					       optarg);
			break;
		case 'h':
			return 1;
		case ':':
			return err_set(e, "option %s needs a value", argv[optind - 1]);
		default:
			if (c >= OPT_KVMTOOL_ONLY &&
			    c < OPT_KVMTOOL_ONLY + (int)ARRAY_SIZE(kvmtool_only))
				return err_set(e, "--%s: a kvmtool option lkvm does not have (see docs/kvmtool.md)",
					       kvmtool_only[c - OPT_KVMTOOL_ONLY]);
			return run_bad_option(argv[optind - 1], optopt, e);
		}
	}
	if (optind < argc)
		return err_set(e, "unexpected argument '%s' (see lkvm run --help)", argv[optind]);
	if (!cfg->kernel_path && !cfg->dump_dtb)
		return err_set(e, "no kernel: give one with -k (see lkvm run --help)");
	return 0;
}


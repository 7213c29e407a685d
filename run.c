// SPDX-License-Identifier: GPL-2.0
/* `lkvm run`: the composition root. Options, VM, devices, vCPUs, main loop. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "disk.h"
#include "evloop.h"
#include "loader.h"
#include "run.h"
#include "term.h"
#include "uart8250.h"
#include "virtio_devs.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"

#define DEFAULT_RAM_MIB 256

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
	{ "9p", required_argument, NULL, OPT_9P },
	{ "virtio-transport", required_argument, NULL, OPT_TRANSPORT },
	{ "ring-endian-offer", required_argument, NULL, OPT_ENDIAN_OFFER },
	{ "debug-ring-endian", required_argument, NULL, OPT_ENDIAN_FORCE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void run_usage(FILE *f)
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
		"                         ARGS has no console=)\n"
		"  -m, --mem SIZE         guest RAM, MiB unless suffixed M or G (default %d)\n"
		"  -c, --cpus N           number of vCPUs (default 1)\n"
		"  -d, --disk FILE[,ro][,direct]\n"
		"                         a virtio-blk disk (raw file or block device; ro:\n"
		"                         read-only, never opened for writing; direct:\n"
		"                         O_DIRECT with libaio); repeat for more (max %d).\n"
		"                         A directory is the guest's root over virtio-9p\n"
		"                         (rootfstype=9p; DIR/virt/init runs if it exists)\n"
		"      --9p DIR,TAG[,ro]  share host directory DIR as 9P2000.L mount tag TAG\n"
		"                         (mount -t 9p -o trans=virtio TAG /mnt); the guest\n"
		"                         never reaches outside DIR; ro: read-only; max %d\n"
		"      --rng              a virtio-rng device fed by the host's getrandom\n"
		"      --console TYPE     serial: the 8250 UART, ttyS0 (default);\n"
		"                         virtio: virtio-console, hvc0 (the UART stays for\n"
		"                         earlycon)\n"
		"      --virtio-transport mmio | mmio-legacy\n"
		"                         virtio-mmio version 2 (default, little-endian rings)\n"
		"                         or version 1 (rings in the guest's byte order)\n"
		"      --ring-endian-offer both | le | be | none\n"
		"                         legacy only: which of VIRTIO_RING_F_GUEST_LE (44) and\n"
		"                         _BE (45) to offer (default both)\n"
		"      --debug-ring-endian le | be\n"
		"                         debug: force every queue's byte order\n"
		"      --aarch32          run a 32-bit ARM guest (zImage) on an arm64 host\n"
		"      --irqchip TYPE     gicv3 (default) or gicv2\n"
		"      --dump-dtb FILE    write the generated device tree to FILE and exit\n"
		"                         without running the guest\n"
		"      --loglevel LEVEL   error, warn (default), info or debug\n"
		"  -h, --help             this help\n"
		"\n"
		"The console is stdin/stdout; on a terminal, Ctrl-A x quits and Ctrl-A Ctrl-A\n"
		"sends Ctrl-A.\n"
		"\n"
		"Exit status:\n"
		"  0    the guest powered off\n"
		"  1    lkvm failed: bad option or input, no KVM, or an error while running\n"
		"  2    the guest reset (rebooted)\n"
		"  3    the guest reported a crash\n"
		"  4    stopped from the console (Ctrl-A x)\n"
		"  128+N  stopped by signal N (SIGINT 130, SIGTERM 143)\n",
		DEFAULT_RAM_MIB, CONFIG_MAX_DISKS, CONFIG_MAX_9P);
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
	if (*end == 'M' || *end == 'm') {
		end++;
	} else if (*end == 'G' || *end == 'g') {
		shift = 30;
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
	{ "serial", CONSOLE_SERIAL }, { "virtio", CONSOLE_VIRTIO }, { NULL, 0 },
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
static const struct run_choice irqchip_choices[] = {
	{ "gicv3", IRQCHIP_GICV3 }, { "gicv2", IRQCHIP_GICV2 }, { NULL, 0 },
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
	while ((c = getopt_long(argc, argv, ":k:i:p:m:c:d:h", run_options, NULL)) != -1) {
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
				return err_set(e, "-m %s: not a RAM size (MiB, or with M or G)", optarg);
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
		case OPT_9P:
			if (cfg->nr_p9 >= CONFIG_MAX_9P)
				return err_set(e, "--9p %s: too many shares (max %d)", optarg, CONFIG_MAX_9P);
			cfg->p9[cfg->nr_p9++] = optarg;
			break;
		case OPT_TRANSPORT:
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
		case OPT_IRQCHIP:
			if (run_parse_choice("--irqchip", optarg, irqchip_choices, &v, e))
				return -1;
			cfg->irqchip = v;
			break;
		case OPT_DUMP_DTB:
			cfg->dump_dtb = optarg;
			break;
		case OPT_LOGLEVEL:
			if (log_parse_level(optarg, &cfg->loglevel))
				return err_set(e, "--loglevel %s: unknown level (error, warn, info, debug)",
					       optarg);
			break;
		case 'h':
			return 1;
		case ':':
			return err_set(e, "option %s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return err_set(e, "unknown option -%c (see lkvm run --help)", optopt);
			return err_set(e, "unknown option %s (see lkvm run --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return err_set(e, "unexpected argument '%s' (see lkvm run --help)", argv[optind]);
	if (!cfg->kernel_path && !cfg->dump_dtb)
		return err_set(e, "no kernel: give one with -k (see lkvm run --help)");
	return 0;
}

/* Everything one run owns, torn down in reverse order. */
struct run_ctx {
	struct vm vm;
	struct vm_config cfg;
	struct boot_files bf;
	struct uart8250 uart;
	bool uart_ready;
	struct virtio_console *vcon;
	char *root_dir; /* -d DIR: the 9p root */
	bool root_ro;
	unsigned int root_index;
	struct evloop loop;
	struct term term;
	struct ev_source sig_src;
	struct ev_source stop_src;
	char *cmdline;
};

static void run_uart_irq(void *opaque, int level)
{
	struct run_ctx *ctx = opaque;

	irq_set_level(&ctx->vm, ctx->uart.mdev.dt.irq, level);
}

static size_t run_console_in(void *opaque, const uint8_t *buf, size_t len)
{
	struct run_ctx *ctx = opaque;

	if (ctx->vcon)
		return virtio_console_input(ctx->vcon, buf, len);
	return uart8250_rx(&ctx->uart, buf, len);
}

static void run_console_size(struct run_ctx *ctx)
{
	struct winsize ws;

	if (ctx->vcon && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row)
		virtio_console_resize(ctx->vcon, ws.ws_col, ws.ws_row);
}

static void run_console_quit(void *opaque)
{
	vm_request_stop(opaque, VM_STOP_USER);
}

static void run_signal(struct ev_source *src, uint32_t events)
{
	struct run_ctx *ctx = src->opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(src->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		run_console_size(ctx);
		return;
	}
	log_info(&ctx->vm.log, "stopping on signal %u", si.ssi_signo);
	atomic_store(&ctx->vm.stop_signal, (int)si.ssi_signo);
	vm_request_stop(&ctx->vm, VM_STOP_SIGNAL);
}

static void run_stop_event(struct ev_source *src, uint32_t events)
{
	uint64_t v;

	(void)events;
	if (read(src->fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already drained */
	}
}

/*
 * -d DIR (a directory) is the guest's root over virtio-9p, like kvmtool:
 * tag /dev/root and the kernel's 9p root options; /virt/init if DIR has one.
 */
#define RUN_ROOT_TAG "/dev/root"

static int run_find_root(struct run_ctx *ctx, struct lkvm_err *e)
{
	unsigned int i;

	for (i = 0; i < ctx->cfg.nr_disks; i++) {
		struct disk_opts o;
		struct stat st;
		char *path;

		if (disk_parse_spec(ctx->cfg.disks[i], &path, &o, e))
			return -1;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (ctx->root_dir) {
				free(path);
				return err_set(e, "-d %s: only one directory can be the root (%s is)",
					       ctx->cfg.disks[i], ctx->root_dir);
			}
			if (o.direct) {
				free(path);
				return err_set(e, "-d %s: a directory root cannot be direct",
					       ctx->cfg.disks[i]);
			}
			ctx->root_dir = path;
			ctx->root_ro = o.ro;
			ctx->root_index = i;
		} else {
			free(path);
		}
	}
	return 0;
}

/* lkvm's defaults first, then the user's words, which override them */
static int run_build_cmdline(struct run_ctx *ctx, struct lkvm_err *e)
{
	const char *user = ctx->cfg.cmdline ? ctx->cfg.cmdline : "";
	const char *con = ctx->cfg.console == CONSOLE_VIRTIO ? "console=hvc0" : "console=ttyS0";
	char root[512] = "";
	size_t len;

	if (ctx->root_dir) {
		char init[4096];
		struct stat st;

		snprintf(init, sizeof(init), "%s/virt/init", ctx->root_dir);
		snprintf(root, sizeof(root),
			 "root=" RUN_ROOT_TAG " %s rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=524288,cache=loose%s",
			 ctx->root_ro ? "ro" : "rw",
			 !strstr(user, "init=") && stat(init, &st) == 0 ? " init=/virt/init" : "");
	}
	if (strstr(user, "console="))
		con = "";
	len = strlen(con) + strlen(root) + strlen(user) + 3;
	ctx->cmdline = malloc(len);
	if (!ctx->cmdline)
		return err_set(e, "out of memory");
	snprintf(ctx->cmdline, len, "%s%s%s%s%s", con, *con && *root ? " " : "", root,
		 (*con || *root) && *user ? " " : "", user);
	ctx->cfg.cmdline = ctx->cmdline;
	return 0;
}

static int run_setup(struct run_ctx *ctx, struct lkvm_err *e)
{
	struct vm *vm = &ctx->vm;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	unsigned int i;

	if (boot_files_load(&ctx->bf, ctx->cfg.kernel_path, ctx->cfg.initrd_path,
			    ctx->cfg.ram_size, e) ||
	    boot_files_check_mode(&ctx->bf, ctx->cfg.aarch32, e) || run_find_root(ctx, e) ||
	    run_build_cmdline(ctx, e))
		return -1;
	if (pages > 0 && psize > 0 && ctx->cfg.ram_size > (uint64_t)pages * (uint64_t)psize)
		return err_set(e, "-m %llu MiB is more than this host's %llu MiB of RAM",
			       (unsigned long long)(ctx->cfg.ram_size >> 20),
			       (unsigned long long)(((uint64_t)pages * psize) >> 20));

	if (vm_create(vm, &ctx->cfg, &arch_host_ops, e))
		return -1;

	uart8250_init(&ctx->uart, vm->arch->uart_base, STDOUT_FILENO, run_uart_irq, ctx);
	ctx->uart_ready = true;
	if (irq_alloc(vm, &ctx->uart.mdev.dt.irq, e) ||
	    mmio_bus_register(&vm->bus, &ctx->uart.mdev, e))
		return -1;

	/* virtio devices, in this order: /dev/vda... follow the -d order */
	for (i = 0; i < ctx->cfg.nr_disks; i++) {
		int r = ctx->root_dir && i == ctx->root_index
				? virtio_9p_add(vm, ctx->root_dir, RUN_ROOT_TAG, ctx->root_ro, e)
				: virtio_blk_add(vm, ctx->cfg.disks[i], e);

		if (r)
			return -1;
	}
	for (i = 0; i < ctx->cfg.nr_p9; i++) {
		char *dir, *tag;
		bool ro;
		int r;

		if (virtio_9p_parse_spec(ctx->cfg.p9[i], &dir, &tag, &ro, e))
			return -1;
		r = virtio_9p_add(vm, dir, tag, ro, e);
		free(dir);
		free(tag);
		if (r)
			return -1;
	}
	if (ctx->cfg.rng && virtio_rng_add(vm, e))
		return -1;
	if (ctx->cfg.console == CONSOLE_VIRTIO) {
		if (virtio_console_add(vm, STDOUT_FILENO, &ctx->vcon, e))
			return -1;
		run_console_size(ctx);
	}

	for (i = 0; i < ctx->cfg.nr_cpus; i++)
		if (vcpu_create(vm, i, e))
			return -1;
	if (vm->arch->vm_finalize(vm, e))
		return -1;
	return vm->arch->boot(vm, &ctx->bf, e);
}

static int run_loop(struct run_ctx *ctx, struct lkvm_err *e)
{
	struct vm *vm = &ctx->vm;
	sigset_t sigs;
	int sfd;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGWINCH);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL))
		return err_set(e, "cannot block signals");
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return err_errno(e, errno, "signalfd");
	ctx->sig_src = (struct ev_source){ .fd = sfd, .cb = run_signal, .opaque = ctx };
	ctx->stop_src = (struct ev_source){ .fd = vm->stop_efd, .cb = run_stop_event, .opaque = ctx };
	if (evloop_add(&ctx->loop, &ctx->sig_src, EPOLLIN, e) ||
	    evloop_add(&ctx->loop, &ctx->stop_src, EPOLLIN, e))
		return -1;
	ctx->term.sink = run_console_in;
	ctx->term.sink_opaque = ctx;
	ctx->term.quit = run_console_quit;
	ctx->term.quit_opaque = vm;
	if (term_init(&ctx->term, STDIN_FILENO, &ctx->loop, e) || term_raw(&ctx->term, e))
		return -1;
	vm->log.crlf = ctx->term.raw;

	if (vcpus_start(vm, e))
		return -1;
	while (vm_stopped(vm) == VM_RUNNING) {
		bool pending = term_flush_pending(&ctx->term);

		evloop_run_once(&ctx->loop, pending ? 10 : -1);
	}
	return 0;
}

static int run_exit_status(struct vm *vm)
{
	switch (vm_stopped(vm)) {
	case VM_STOP_POWEROFF:
		return LKVM_EXIT_POWEROFF;
	case VM_STOP_RESET:
		return LKVM_EXIT_RESET;
	case VM_STOP_CRASH:
		return LKVM_EXIT_CRASH;
	case VM_STOP_USER:
		return LKVM_EXIT_USER;
	case VM_STOP_SIGNAL:
		return LKVM_EXIT_SIGNAL_BASE + atomic_load(&vm->stop_signal);
	default:
		return LKVM_EXIT_ERROR;
	}
}

static void run_teardown(struct run_ctx *ctx)
{
	struct vm *vm = &ctx->vm;

	/* every thread that can touch guest RAM is joined before it goes */
	vcpus_stop(vm);
	vm_stop_devices(vm);
	term_restore(&ctx->term);
	vm->log.crlf = false;
	if (ctx->sig_src.fd > 0)
		close(ctx->sig_src.fd);
	evloop_exit(&ctx->loop);
	vcpus_destroy(vm);
	vm_destroy_devices(vm);
	vm_destroy(vm);
	if (ctx->uart_ready)
		uart8250_exit(&ctx->uart);
	boot_files_free(&ctx->bf);
	free(ctx->cmdline);
	free(ctx->root_dir);
}

int cmd_run(int argc, char **argv)
{
	struct run_ctx *ctx;
	struct lkvm_err e = { "" };
	int r, status;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		fprintf(stderr, "lkvm: out of memory\n");
		return LKVM_EXIT_ERROR;
	}
	ctx->vm.log = (struct logger){ .level = LOG_WARN, .fd = STDERR_FILENO };
	ctx->vm.kvm_fd = ctx->vm.vm_fd = ctx->vm.stop_efd = ctx->loop.epfd = -1;
	ctx->sig_src.fd = -1;
	/* a guest console on a closed pipe must not kill lkvm */
	signal(SIGPIPE, SIG_IGN);

	r = run_parse_options(argc, argv, &ctx->cfg, &e);
	if (r == 1) {
		run_usage(stdout);
		free(ctx);
		return 0;
	}
	if (r) {
		log_err(&ctx->vm.log, "%s", e.msg);
		free(ctx);
		return LKVM_EXIT_ERROR;
	}
	ctx->vm.log.level = ctx->cfg.loglevel;

	r = run_setup(ctx, &e);
	if (!r && ctx->cfg.dump_dtb) {
		log_info(&ctx->vm.log, "device tree written to %s", ctx->cfg.dump_dtb);
		run_teardown(ctx);
		free(ctx);
		return 0;
	}
	if (!r)
		r = evloop_init(&ctx->loop, &e);
	if (!r)
		r = run_loop(ctx, &e);
	if (r)
		vm_request_stop(&ctx->vm, VM_STOP_ERROR);
	run_teardown(ctx);
	if (r)
		log_err(&ctx->vm.log, "%s", e.msg);
	status = run_exit_status(&ctx->vm);
	log_info(&ctx->vm.log, "exit status %d", status);
	free(ctx);
	return status;
}

// SPDX-License-Identifier: GPL-2.0
/* `lkvm run`: the composition root. Options, VM, devices, vCPUs, main loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "control.h"
#include "crash.h"
#include "disk.h"
#include "evloop.h"
#include "loader.h"
#include "net.h"
#include "run.h"
#include "seccomp_filter.h"
#include "term.h"
#include "uart8250.h"
#include "virtio_devs.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"

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
	struct ev_source timer_src;
	struct control control;
	char name[CONTROL_NAME_MAX + 1];
	int console_log_fd;
	struct timespec started;
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

static void run_timeout(struct ev_source *src, uint32_t events)
{
	struct run_ctx *ctx = src->opaque;
	uint64_t n;

	(void)events;
	if (read(src->fd, &n, sizeof(n)) != sizeof(n))
		return;
	log_info(&ctx->vm.log, "--timeout of %u s ran out", ctx->cfg.timeout_s);
	vm_request_stop(&ctx->vm, VM_STOP_TIMEOUT);
}

static double run_uptime(const struct run_ctx *ctx)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - ctx->started.tv_sec) + (now.tv_nsec - ctx->started.tv_nsec) / 1e9;
}

static void run_dump(struct run_ctx *ctx, FILE *out)
{
	struct vm *vm = &ctx->vm;
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		fprintf(out, "vcpu %u:", i);
		if (vm->arch->vcpu_dump)
			vm->arch->vcpu_dump(vm->vcpus[i], out);
		fprintf(out, "\n");
	}
	vm_dump_devices(vm, out);
}

/* The control socket's commands (include/control.h). */
static int run_control(void *opaque, const char *cmd, FILE *out, struct lkvm_err *e)
{
	struct run_ctx *ctx = opaque;
	struct vm *vm = &ctx->vm;
	unsigned int i;

	if (!strcmp(cmd, "info")) {
		fprintf(out, "name=%s pid=%d state=%s cpus=%u mem_mib=%llu uptime=%.1f\n", ctx->name,
			(int)getpid(), vcpus_paused(vm) ? "paused" : "running", vm->nr_vcpus,
			(unsigned long long)(vm->ram_size >> 20), run_uptime(ctx));
	} else if (!strcmp(cmd, "stop")) {
		vm_request_stop(vm, VM_STOP_USER);
	} else if (!strcmp(cmd, "pause")) {
		vcpus_pause(vm);
	} else if (!strcmp(cmd, "resume")) {
		vcpus_resume(vm);
	} else if (!strcmp(cmd, "dump")) {
		/* registers are only stable, and only readable, outside KVM_RUN */
		bool was_paused = vcpus_paused(vm);

		if (!was_paused)
			vcpus_pause(vm);
		run_dump(ctx, out);
		if (!was_paused)
			vcpus_resume(vm);
	} else if (!strcmp(cmd, "stat")) {
		fprintf(out, "uptime %.1f s\nstate %s\nmemory %llu MiB\n", run_uptime(ctx),
			vcpus_paused(vm) ? "paused" : "running",
			(unsigned long long)(vm->ram_size >> 20));
		for (i = 0; i < vm->nr_vcpus; i++)
			fprintf(out, "vcpu %u exits %llu mmio %llu\n", i,
				(unsigned long long)atomic_load(&vm->vcpus[i]->nr_exits),
				(unsigned long long)atomic_load(&vm->vcpus[i]->nr_mmio_exits));
	} else {
		return err_set(e, "unknown command '%s'", cmd);
	}
	return 0;
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

/* the command line has NAME (e.g. "panic=") at the start of a word */
static bool run_has_param(const char *cmdline, const char *name)
{
	const char *p = cmdline;

	while ((p = strstr(p, name))) {
		if (p == cmdline || p[-1] == ' ')
			return true;
		p++;
	}
	return false;
}

/* lkvm's defaults first, then the user's words, which override them */
static int run_build_cmdline(struct run_ctx *ctx, struct lkvm_err *e)
{
	const char *user = ctx->cfg.cmdline ? ctx->cfg.cmdline : "";
	const char *con = ctx->cfg.console == CONSOLE_VIRTIO ? "console=hvc0" : "console=ttyS0";
	char root[512] = "";
	size_t len;

	/* --nodefaults: the guest sees ARGS alone (kvm-unit-tests reads it as argv) */
	if (ctx->cfg.nodefaults) {
		ctx->cmdline = strdup(user);
		if (!ctx->cmdline)
			return err_set(e, "out of memory");
		ctx->cfg.cmdline = ctx->cmdline;
		return 0;
	}

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
	/*
	 * A panic must end lkvm, not hang it: reboot at once (panic=-1), in
	 * warm mode, which lkvm reads as a crash (exit 3; core/vcpu.c). Works
	 * with Linux 6.1 guests (PSCI SYSTEM_RESET2), no driver needed. The user's own panic=
	 * or reboot= win (reboot=panic_warm: kernel/reboot.c, panic_reboot_mode).
	 */
	if (!run_has_param(user, "panic="))
		snprintf(root + strlen(root), sizeof(root) - strlen(root), "%spanic=-1",
			 *root ? " " : "");
	if (!run_has_param(user, "reboot="))
		snprintf(root + strlen(root), sizeof(root) - strlen(root),
			 "%sreboot=panic_warm", *root ? " " : "");
	len = strlen(con) + strlen(root) + strlen(user) + 3;
	ctx->cmdline = malloc(len);
	if (!ctx->cmdline)
		return err_set(e, "out of memory");
	snprintf(ctx->cmdline, len, "%s%s%s%s%s", con, *con && *root ? " " : "", root,
		 (*con || *root) && *user ? " " : "", user);
	ctx->cfg.cmdline = ctx->cmdline;
	return 0;
}

/* --loglevel debug: where the time goes between `lkvm run` and the guest */
static void run_mark(struct run_ctx *ctx, const char *what)
{
	if (ctx->vm.log.level >= LOG_DEBUG)
		log_debug(&ctx->vm.log, "boot: %s at +%.1f ms", what, run_uptime(ctx) * 1e3);
}

static int run_setup(struct run_ctx *ctx, struct lkvm_err *e)
{
	struct vm *vm = &ctx->vm;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	unsigned int i;

	run_mark(ctx, "options parsed");
	if (pages > 0 && psize > 0 && ctx->cfg.ram_size > (uint64_t)pages * (uint64_t)psize)
		return err_set(e, "-m %llu MiB is more than this host's %llu MiB of RAM",
			       (unsigned long long)(ctx->cfg.ram_size >> 20),
			       (unsigned long long)(((uint64_t)pages * psize) >> 20));
	/*
	 * The VM and its vGIC first: what this host's KVM cannot do (an
	 * irqchip, --aarch32) is said before any file is read, so a probe
	 * with a missing kernel (kvm-unit-tests' runner) sees it.
	 */
	if (vm_create(vm, &ctx->cfg, &arch_host_ops, e))
		return -1;
	run_mark(ctx, "VM and RAM created");
	if (boot_files_load(&ctx->bf, ctx->cfg.kernel_path, ctx->cfg.initrd_path,
			    ctx->cfg.ram_size, e))
		return -1;
	run_mark(ctx, "files loaded");
	if (boot_files_check_mode(&ctx->bf, ctx->cfg.aarch32, e) || run_find_root(ctx, e) ||
	    run_build_cmdline(ctx, e))
		return -1;
	run_mark(ctx, "kernel and initrd read");

	if (ctx->cfg.console_log) {
		ctx->console_log_fd = open(ctx->cfg.console_log,
					   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (ctx->console_log_fd < 0)
			return err_errno(e, errno, "--console-log %s", ctx->cfg.console_log);
	}
	uart8250_init(&ctx->uart, vm->arch->uart_base, STDOUT_FILENO, run_uart_irq, ctx);
	ctx->uart.log_fd = ctx->console_log_fd;
	ctx->uart_ready = true;
	if (irq_alloc(vm, &ctx->uart.mdev.dt.irq, e) ||
	    mmio_bus_register(&vm->bus, &ctx->uart.mdev, e))
		return -1;

	/* virtio devices, in this order: /dev/vda... follow the -d order */
	for (i = 0; i < ctx->cfg.nr_disks; i++) {
		int r = ctx->root_dir && i == ctx->root_index
				? virtio_9p_add(vm, ctx->root_dir, RUN_ROOT_TAG,
						ctx->root_ro ? P9_SHARE_RO : 0, e)
				: virtio_blk_add(vm, ctx->cfg.disks[i], e);

		if (r)
			return -1;
	}
	for (i = 0; i < ctx->cfg.nr_p9; i++) {
		char *dir, *tag;
		unsigned int flags;
		int r;

		if (virtio_9p_parse_spec(ctx->cfg.p9[i], &dir, &tag, &flags, e))
			return -1;
		r = virtio_9p_add(vm, dir, tag, flags, e);
		free(dir);
		free(tag);
		if (r)
			return -1;
	}
	if (ctx->cfg.rng && virtio_rng_add(vm, e))
		return -1;
	if (ctx->cfg.console == CONSOLE_VIRTIO) {
		if (virtio_console_add(vm, STDOUT_FILENO, ctx->console_log_fd, &ctx->vcon, e))
			return -1;
		run_console_size(ctx);
	}
	/* NICs last: eth0, eth1... follow the -n order */
	for (i = 0; i < ctx->cfg.nr_nets; i++)
		if (virtio_net_add(vm, ctx->cfg.nets[i], i, e))
			return -1;

	run_mark(ctx, "devices created");
	for (i = 0; i < ctx->cfg.nr_cpus; i++)
		if (vcpu_create(vm, i, e))
			return -1;
	run_mark(ctx, "vCPUs created");
	if (vm->arch->vm_finalize(vm, e))
		return -1;
	/* the vGIC's routing exists only now: irqfds bind here */
	vm_ready_devices(vm);
	run_mark(ctx, "irqchip ready");
	if (vm->arch->boot(vm, &ctx->bf, e))
		return -1;
	run_mark(ctx, "kernel placed, device tree built");
	return 0;
}

/* The signals the main loop turns into an orderly stop (or a resize). */
static void run_signal_set(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGHUP);
	sigaddset(sigs, SIGWINCH);
}

static int run_loop(struct run_ctx *ctx, struct lkvm_err *e)
{
	struct vm *vm = &ctx->vm;
	sigset_t sigs;
	int sfd;

	/* from here an orderly stop (disks flushed): a signal now waits for the loop */
	run_signal_set(&sigs);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	crash_stop_signals_to_main_loop();
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return err_errno(e, errno, "signalfd");
	ctx->sig_src = (struct ev_source){ .fd = sfd, .cb = run_signal, .opaque = ctx };
	ctx->stop_src = (struct ev_source){ .fd = vm->stop_efd, .cb = run_stop_event, .opaque = ctx };
	if (evloop_add(&ctx->loop, &ctx->sig_src, EPOLLIN, e) ||
	    evloop_add(&ctx->loop, &ctx->stop_src, EPOLLIN, e))
		return -1;
	if (ctx->cfg.timeout_s) {
		struct itimerspec its = { .it_value.tv_sec = ctx->cfg.timeout_s };
		int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

		if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0)
			return err_errno(e, errno, "timerfd for --timeout");
		ctx->timer_src = (struct ev_source){ .fd = tfd, .cb = run_timeout, .opaque = ctx };
		if (evloop_add(&ctx->loop, &ctx->timer_src, EPOLLIN, e))
			return -1;
	}
	ctx->control.handle = run_control;
	ctx->control.opaque = ctx;
	if (control_open(&ctx->control, ctx->name, &ctx->loop, e))
		return -1;
	ctx->term.sink = run_console_in;
	ctx->term.sink_opaque = ctx;
	ctx->term.quit = run_console_quit;
	ctx->term.quit_opaque = vm;
	if (term_init(&ctx->term, STDIN_FILENO, &ctx->loop, e) || term_raw(&ctx->term, e))
		return -1;
	vm->log.crlf = ctx->term.raw;
	/* a fault in lkvm says where, with the terminal restored */
	if (crash_handler_install(ctx->term.in_fd, &ctx->term.saved, ctx->term.raw))
		return err_errno(e, errno, "sigaction");

	/* start-up is done: from here on, only the syscalls lkvm uses */
	if (seccomp_run_install(&ctx->cfg, &vm->log, &ctx->term, e) || vcpus_start(vm, e))
		return -1;
	run_mark(ctx, "vCPU threads started");
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
	case VM_STOP_TIMEOUT:
		return LKVM_EXIT_TIMEOUT;
	default:
		return LKVM_EXIT_ERROR;
	}
}

/*
 * --loglevel info, at exit: what benchmarks read. Peak RSS less the guest
 * RAM resident now (guest pages are never given back while it runs, so
 * that is also their peak): lkvm's own footprint.
 */
static void run_log_stats(struct run_ctx *ctx)
{
	struct vm *vm = &ctx->vm;
	uint64_t exits = 0, mmio = 0, resident = 0, first;
	struct rusage ru;
	unsigned int i;

	if (vm->log.level < LOG_INFO)
		return;
	for (i = 0; i < vm->nr_vcpus; i++) {
		exits += atomic_load(&vm->vcpus[i]->nr_exits);
		mmio += atomic_load(&vm->vcpus[i]->nr_mmio_exits);
	}
	if (vm->ram) {
		size_t pages = vm->ram_size / sysconf(_SC_PAGESIZE);
		unsigned char *vec = malloc(pages);

		if (vec && !mincore(vm->ram, vm->ram_size, vec))
			for (size_t p = 0; p < pages; p++)
				resident += vec[p] & 1;
		free(vec);
		resident *= sysconf(_SC_PAGESIZE) / 1024;
	}
	getrusage(RUSAGE_SELF, &ru);
	first = atomic_load(&vm->first_run_ns);
	log_info(&vm->log, "stats: exits=%llu mmio_exits=%llu start_to_first_run_us=%lld",
		 (unsigned long long)exits, (unsigned long long)mmio,
		 first ? (long long)(first - (ctx->started.tv_sec * 1000000000ULL +
					     ctx->started.tv_nsec)) / 1000 : -1LL);
	log_info(&vm->log, "stats: rss_peak_kib=%ld guest_ram_resident_kib=%llu overhead_kib=%lld",
		 ru.ru_maxrss, (unsigned long long)resident,
		 (long long)ru.ru_maxrss - (long long)resident);
	vm_stats_devices(vm);
}

static void run_teardown(struct run_ctx *ctx)
{
	struct vm *vm = &ctx->vm;

	/* every thread that can touch guest RAM is joined before it goes */
	vcpus_stop(vm);
	vm_stop_devices(vm);
	run_log_stats(ctx);
	term_restore(&ctx->term);
	vm->log.crlf = false;
	if (ctx->sig_src.fd > 0)
		close(ctx->sig_src.fd);
	if (ctx->timer_src.fd > 0)
		close(ctx->timer_src.fd);
	control_close(&ctx->control, &ctx->loop);
	evloop_exit(&ctx->loop);
	vcpus_destroy(vm);
	vm_destroy_devices(vm);
	vm_destroy(vm);
	if (ctx->uart_ready)
		uart8250_exit(&ctx->uart);
	boot_files_free(&ctx->bf);
	if (ctx->console_log_fd >= 0)
		close(ctx->console_log_fd);
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
	ctx->sig_src.fd = ctx->timer_src.fd = ctx->console_log_fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &ctx->started);
	/* a guest console on a closed pipe must not kill lkvm */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Until the main loop takes them, SIGINT/TERM/HUP end lkvm at once
	 * (128+N, one line): a start-up open() of a FIFO must not make lkvm
	 * deaf to Ctrl-C. lkvm's threads start with them blocked
	 * (thread_start): later they belong to the main loop's signalfd.
	 */
	if (crash_stop_signals_install()) {
		fprintf(stderr, "lkvm: sigaction: %s\n", strerror(errno));
		free(ctx);
		return LKVM_EXIT_ERROR;
	}

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
	if (ctx->cfg.name)
		snprintf(ctx->name, sizeof(ctx->name), "%s", ctx->cfg.name);
	else
		snprintf(ctx->name, sizeof(ctx->name), "guest-%d", (int)getpid());

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

// SPDX-License-Identifier: GPL-2.0
/*
 * The seccomp filter: after start-up (RAM mapped, images opened, devices,
 * backends and the control socket set up), lkvm needs only a fixed set of
 * syscalls. The guest is hostile; if it ever takes over a device thread,
 * it gets no fork/exec, no new sockets (unless libslirp needs them), no
 * new executable memory, no ioctl outside the list below.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "net.h"
#include "seccomp_filter.h"

int seccomp_run_install(const struct vm_config *cfg, const struct logger *log,
			const struct term *term, struct lkvm_err *e)
{
	struct seccomp_opts o = { .term = term };
	unsigned int i;

	if (cfg->no_seccomp) {
		log_debug(log, "seccomp: off (--no-seccomp)");
		return 0;
	}
	for (i = 0; i < cfg->nr_nets; i++) {
		struct net_opts no;

		if (!net_parse_spec(cfg->nets[i], &no, e) && no.mode == NET_MODE_USER)
			o.net_sockets = true;
	}
	return seccomp_install(log, &o, NULL, e);
}

#ifdef HAVE_SECCOMP
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>

const bool seccomp_built_in = true;

#define SECCOMP_NAME_LEN 32
#define SECCOMP_NR_NAMES 1024 /* above every arch's highest syscall number */

/*
 * What the SIGSYS handler needs, in the one place a handler can reach:
 * written once by seccomp_install() before the filter is loaded, then
 * only read. Names are resolved beforehand (libseccomp allocates, a
 * signal handler must not).
 */
static struct {
	int tty_fd;
	struct termios tio;
	volatile sig_atomic_t tty_armed;
	char (*names)[SECCOMP_NAME_LEN];
} seccomp_trap;

static size_t seccomp_put(char *buf, size_t off, size_t size, const char *s)
{
	while (*s && off + 1 < size)
		buf[off++] = *s++;
	return off;
}

/* async-signal-safe: ioctl(TCSETS), write and _exit, all on the allow-list */
static void seccomp_sigsys(int sig, siginfo_t *si, void *uc)
{
	char buf[192], num[12];
	unsigned int nr = (unsigned int)si->si_syscall;
	size_t n = 0, d = sizeof(num);

	(void)sig;
	(void)uc;
	if (seccomp_trap.tty_armed)
		tcsetattr(seccomp_trap.tty_fd, TCSANOW, &seccomp_trap.tio);
	num[--d] = '\0';
	do {
		num[--d] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr && d);
	n = seccomp_put(buf, n, sizeof(buf), "lkvm: seccomp: syscall ");
	n = seccomp_put(buf, n, sizeof(buf), num + d);
	nr = (unsigned int)si->si_syscall;
	if (seccomp_trap.names && nr < SECCOMP_NR_NAMES && seccomp_trap.names[nr][0]) {
		n = seccomp_put(buf, n, sizeof(buf), " (");
		n = seccomp_put(buf, n, sizeof(buf), seccomp_trap.names[nr]);
		n = seccomp_put(buf, n, sizeof(buf), ")");
	}
	n = seccomp_put(buf, n, sizeof(buf),
			" is not allowed; rerun with --no-seccomp and report it\n");
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere left to say it */
	}
	_exit(1);
}

/* Syscalls allowed with any arguments; a name this arch lacks is skipped. */
static const char *const seccomp_plain[] = {
	/* file I/O: console, disks (raw, qcow2), the 9p server, tap */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "lseek", "close", "fsync", "fdatasync", "fallocate",
	"ftruncate", "sync_file_range", "fcntl", "flock", "dup", "dup2", "dup3",
	/* 9p: confined paths below the shared directory (9p/confine.c) */
	"open", "openat", "openat2", "fstat", "newfstatat", "stat", "lstat", "statx",
	"statfs", "fstatfs", "getdents64", "mkdirat", "mknodat", "rename", "renameat",
	"renameat2", "unlink", "unlinkat", "linkat", "symlinkat", "readlinkat",
	"fchown", "fchownat", "fchmod", "fchmodat", "utimensat", "access", "faccessat",
	"faccessat2", "getuid", "geteuid", "getgid", "getegid",
	/* -d ...,direct: libaio */
	"io_setup", "io_destroy", "io_submit", "io_getevents", "io_pgetevents", "io_cancel",
	/* event loops, eventfds (kicks, ioeventfd, irqfd), timers */
	"poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_ctl", "eventfd2",
	"timerfd_settime", "timerfd_gettime",
	/* the control socket; libslirp's existing sockets */
	"accept", "accept4", "recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown",
	"getsockopt", "setsockopt", "getsockname", "getpeername",
	/* memory (mmap and mprotect: below, never executable) */
	"brk", "munmap", "mremap", "madvise", "mincore",
	/* threads, locks, signals */
	"futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity",
	"rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	"getpid", "gettid", "exit", "exit_group",
	/* time, --rng, stats at exit */
	"clock_gettime", "clock_getres", "gettimeofday", "nanosleep", "clock_nanosleep",
	"getrandom", "getrusage", "getrlimit",
};

/*
 * ioctl requests (the kernel compares the low 32 bits of the request):
 * KVM on the vCPU/VM fds, the console tty, TUNSETOFFLOAD when the guest
 * acks offloads, discard/zeroes on block devices, FIONREAD for libslirp.
 * Most run in vCPU threads, which leave SIGSYS unblocked for this
 * (core/vcpu.c): blocked, a trap would kill lkvm without the line.
 */
static const unsigned long seccomp_ioctls[] = {
	KVM_RUN, KVM_IRQ_LINE, KVM_IRQFD, KVM_IOEVENTFD, KVM_CHECK_EXTENSION,
	KVM_GET_ONE_REG,
#ifdef KVM_SET_VCPU_EVENTS
	KVM_SET_VCPU_EVENTS, /* arm: a data abort for an undecodable access */
#endif
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ,
	FIONREAD, FIONBIO,
	TUNSETOFFLOAD,
	BLKDISCARD, BLKZEROOUT, BLKGETSIZE64, BLKSSZGET,
};

struct seccomp_build {
	scmp_filter_ctx ctx;
	unsigned int nr_rules;
	struct lkvm_err *e;
};

/* One rule; a syscall this arch does not have is skipped (0). */
static int seccomp_rule(struct seccomp_build *b, uint32_t action, const char *name,
			unsigned int nr_args, const struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name);
	int r;

	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	r = seccomp_rule_add_array(b->ctx, action, nr, nr_args, args);
	if (r < 0)
		return err_errno(b->e, -r, "seccomp: rule for %s", name);
	b->nr_rules++;
	return 0;
}

static int seccomp_rule1(struct seccomp_build *b, const char *name, struct scmp_arg_cmp a)
{
	return seccomp_rule(b, SCMP_ACT_ALLOW, name, 1, &a);
}

static int seccomp_rules(struct seccomp_build *b, const struct seccomp_opts *o)
{
	const struct scmp_arg_cmp no_exec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	static const int families[] = { AF_INET, AF_INET6 };
	unsigned int i;

	for (i = 0; i < sizeof(seccomp_plain) / sizeof(seccomp_plain[0]); i++)
		if (seccomp_rule(b, SCMP_ACT_ALLOW, seccomp_plain[i], 0, NULL))
			return -1;
	for (i = 0; i < sizeof(seccomp_ioctls) / sizeof(seccomp_ioctls[0]); i++)
		if (seccomp_rule1(b, "ioctl",
				  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, seccomp_ioctls[i] & 0xffffffffUL)))
			return -1;
	if (seccomp_rule1(b, "mmap", no_exec) || seccomp_rule1(b, "mprotect", no_exec) ||
	    /* threads (clone's flags are arg 0 on arm64 and x86_64), never processes */
	    seccomp_rule1(b, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) ||
	    /* clone3's flags are behind a pointer: ENOSYS makes glibc use clone */
	    seccomp_rule(b, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL) ||
	    /* signals to our own threads only (vCPU kicks, raise) */
	    seccomp_rule1(b, "tgkill", SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid())) ||
	    /* any handler but SIGSYS's: that one is ours */
	    seccomp_rule1(b, "rt_sigaction", SCMP_A0(SCMP_CMP_NE, SIGSYS)) ||
	    /* reading limits (pthread_create), never setting them */
	    seccomp_rule1(b, "prlimit64", SCMP_A2(SCMP_CMP_EQ, 0)))
		return -1;
	if (!o->net_sockets)
		return 0;
	/* libslirp: a host socket per guest connection (TCP, UDP, ICMP echo) */
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (seccomp_rule1(b, "socket", SCMP_A0(SCMP_CMP_EQ, families[i])))
			return -1;
	if (seccomp_rule(b, SCMP_ACT_ALLOW, "connect", 0, NULL) ||
	    seccomp_rule(b, SCMP_ACT_ALLOW, "bind", 0, NULL) ||
	    seccomp_rule(b, SCMP_ACT_ALLOW, "listen", 0, NULL))
		return -1;
	return 0;
}

static int seccomp_names(struct lkvm_err *e)
{
	unsigned int nr;

	if (seccomp_trap.names)
		return 0;
	seccomp_trap.names = calloc(SECCOMP_NR_NAMES, SECCOMP_NAME_LEN);
	if (!seccomp_trap.names)
		return err_set(e, "out of memory");
	for (nr = 0; nr < SECCOMP_NR_NAMES; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);

		if (s)
			snprintf(seccomp_trap.names[nr], SECCOMP_NAME_LEN, "%s", s);
		free(s);
	}
	return 0;
}

int seccomp_install(const struct logger *log, const struct seccomp_opts *o,
		    unsigned int *nr_rules, struct lkvm_err *e)
{
	struct sigaction sa = { .sa_sigaction = seccomp_sigsys, .sa_flags = SA_SIGINFO };
	struct seccomp_build b = { .e = e };
	int r;

	if (seccomp_names(e))
		return -1;
	if (o->term && o->term->raw) {
		seccomp_trap.tty_fd = o->term->in_fd;
		seccomp_trap.tio = o->term->saved;
		seccomp_trap.tty_armed = 1;
	}
	/* every signal blocked while it runs: it ends the process anyway */
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return err_errno(e, errno, "sigaction(SIGSYS)");

	b.ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!b.ctx)
		return err_set(e, "seccomp: cannot create a filter");
	/* the device and network threads already run: load into all of them */
	r = seccomp_attr_set(b.ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0) {
		err_errno(e, -r, "seccomp: thread sync");
	} else if (!seccomp_rules(&b, o)) {
		r = seccomp_load(b.ctx);
		if (r < 0)
			err_errno(e, -r, "seccomp: loading the filter (--no-seccomp runs without)");
	} else {
		r = -1;
	}
	seccomp_release(b.ctx);
	if (r < 0)
		return -1;
	if (nr_rules)
		*nr_rules = b.nr_rules;
	log_debug(log, "seccomp: filter on, %u rules (a denied syscall: SIGSYS, exit 1)",
		  b.nr_rules);
	return 0;
}

#else /* !HAVE_SECCOMP */

const bool seccomp_built_in = false;

int seccomp_install(const struct logger *log, const struct seccomp_opts *o,
		    unsigned int *nr_rules, struct lkvm_err *e)
{
	(void)o;
	(void)e;
	if (nr_rules)
		*nr_rules = 0;
	log_warn(log, "this build has no seccomp filter (built without libseccomp); "
		      "--no-seccomp silences this");
	return 0;
}

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * The seccomp filter, loaded for real in a forked child: what lkvm uses
 * still works, anything else ends the child with the one SIGSYS line and
 * exit status 1, and a raw terminal comes back cooked. Syscall numbers
 * are this host's (x86_64 here; libseccomp resolves names per arch).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "seccomp_filter.h"
#include "test.h"

#define SC_EXIT_NO_FILTER 77 /* the child could not load a filter */

enum sc_action {
	SC_ALLOWED,     /* only what lkvm uses: exits 0 */
	SC_FORK,        /* a process, not a thread */
	SC_TIOCSTI,     /* an ioctl off the list */
	SC_SOCKET_UNIX, /* no socket family but libslirp's */
	SC_SOCKET_INET, /* libslirp's, when a user-mode NIC asks for it */
	SC_MMAP_EXEC,
	SC_EXECVE,
	SC_SIGSYS_HANDLER,
	SC_SETRLIMIT,
	SC_KILL,
};

struct sc_result {
	int status; /* from waitpid */
	char out[1024];
};

static void *sc_thread(void *arg)
{
	return arg;
}

static int sc_do(enum sc_action a, int tty_fd)
{
	struct timespec ts;
	struct termios tio;
	struct rlimit rl;
	pthread_t th;
	void *ret = NULL;
	int fd;

	switch (a) {
	case SC_ALLOWED:
		/* clone3 answers ENOSYS (glibc then takes clone), a thread starts */
		if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
			return 10;
		if (pthread_create(&th, NULL, sc_thread, (void *)&ts) ||
		    pthread_join(th, &ret) || ret != &ts)
			return 11;
		if (clock_gettime(CLOCK_MONOTONIC, &ts) || getpid() <= 0 || getrlimit(RLIMIT_STACK, &rl))
			return 12;
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd < 0 || write(fd, "x", 1) != 1 || close(fd))
			return 13;
		if (tty_fd >= 0 && tcgetattr(tty_fd, &tio))
			return 14;
		free(malloc(1 << 20)); /* mmap without PROT_EXEC */
		return 0;
	case SC_FORK:
		return fork() < 0 ? 20 : 21;
	case SC_TIOCSTI:
		ioctl(tty_fd, TIOCSTI, "x");
		return 22;
	case SC_SOCKET_UNIX:
		socket(AF_UNIX, SOCK_STREAM, 0);
		return 23;
	case SC_SOCKET_INET:
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		return fd >= 0 || errno == EAFNOSUPPORT ? 0 : 24;
	case SC_MMAP_EXEC:
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return 25;
	case SC_EXECVE:
		execl("/bin/true", "true", (char *)NULL);
		return 26;
	case SC_SIGSYS_HANDLER:
		signal(SIGSYS, SIG_DFL);
		return 27;
	case SC_SETRLIMIT:
		rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
		setrlimit(RLIMIT_CORE, &rl);
		return 28;
	case SC_KILL:
		kill(getpid(), 0);
		return 29;
	}
	return 30;
}

/*
 * Runs action a in a child that loaded the filter (stderr and the debug
 * log into a pipe); false when no filter can be loaded here.
 */
static bool sc_run(enum sc_action a, bool net_sockets, struct term *t, struct sc_result *res)
{
	int fds[2];
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (!CHECK(pipe(fds) == 0))
		return false;
	pid = fork();
	if (pid == 0) {
		struct logger log = { .level = LOG_DEBUG, .fd = fds[1] };
		struct seccomp_opts o = { .net_sockets = net_sockets, .term = t };
		struct lkvm_err e = { "" };
		unsigned int nr = 0;

		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		if (seccomp_install(&log, &o, &nr, &e)) {
			dprintf(fds[1], "NO-FILTER %s\n", e.msg);
			_exit(SC_EXIT_NO_FILTER);
		}
		if (nr < 50)
			_exit(9);
		/* _exit: no atexit handlers (a sanitizer's) under the filter */
		_exit(sc_do(a, t ? t->in_fd : -1));
	}
	close(fds[1]);
	if (!CHECK(pid > 0)) {
		close(fds[0]);
		return false;
	}
	while (got < sizeof(res->out) - 1 &&
	       (n = read(fds[0], res->out + got, sizeof(res->out) - 1 - got)) > 0)
		got += n;
	close(fds[0]);
	CHECK(waitpid(pid, &res->status, 0) == pid);
	if (WIFEXITED(res->status) && WEXITSTATUS(res->status) == SC_EXIT_NO_FILTER) {
		test_skip("no seccomp filter can be loaded here: %s", res->out);
		return false;
	}
	return true;
}

static bool sc_usable(void)
{
	if (!seccomp_built_in) {
		test_skip("built without libseccomp");
		return false;
	}
	return true;
}

/* exit status 1 and exactly the one line naming syscall nr */
static void sc_check_denied(const struct sc_result *res, long nr, const char *name)
{
	char want[160];
	const char *line;

	CHECK(WIFEXITED(res->status));
	CHECK_EQ_U64(WEXITSTATUS(res->status), 1);
	snprintf(want, sizeof(want),
		 "lkvm: seccomp: syscall %ld (%s) is not allowed; rerun with --no-seccomp and report it\n",
		 nr, name);
	line = strstr(res->out, "lkvm: seccomp: syscall");
	if (CHECK(line))
		CHECK_STR(line, want);
}

TEST(seccomp, allowed_syscalls_run_and_debug_log_counts_rules)
{
	struct sc_result res;

	if (!sc_usable() || !sc_run(SC_ALLOWED, false, NULL, &res))
		return;
	CHECK(WIFEXITED(res.status));
	CHECK_EQ_U64(WEXITSTATUS(res.status), 0);
	CHECK_CONTAINS(res.out, "lkvm: debug: seccomp: filter on, ");
	CHECK(!strstr(res.out, "not allowed"));
}

TEST(seccomp, fork_is_denied)
{
	struct sc_result res;

	if (!sc_usable() || !sc_run(SC_FORK, false, NULL, &res))
		return;
	sc_check_denied(&res, SYS_clone, "clone");
}

TEST(seccomp, exec_mmap_exec_and_limits_are_denied)
{
	struct sc_result res;

	if (!sc_usable())
		return;
	if (sc_run(SC_EXECVE, false, NULL, &res))
		sc_check_denied(&res, SYS_execve, "execve");
	if (sc_run(SC_MMAP_EXEC, false, NULL, &res))
		sc_check_denied(&res, SYS_mmap, "mmap");
	if (sc_run(SC_SIGSYS_HANDLER, false, NULL, &res))
		sc_check_denied(&res, SYS_rt_sigaction, "rt_sigaction");
	if (sc_run(SC_SETRLIMIT, false, NULL, &res))
		sc_check_denied(&res, SYS_prlimit64, "prlimit64");
	if (sc_run(SC_KILL, false, NULL, &res))
		sc_check_denied(&res, SYS_kill, "kill");
}

TEST(seccomp, sockets_only_for_user_networking)
{
	struct sc_result res;

	if (!sc_usable())
		return;
	if (sc_run(SC_SOCKET_INET, false, NULL, &res))
		sc_check_denied(&res, SYS_socket, "socket");
	if (sc_run(SC_SOCKET_INET, true, NULL, &res)) {
		CHECK(WIFEXITED(res.status));
		CHECK_EQ_U64(WEXITSTATUS(res.status), 0);
	}
	if (sc_run(SC_SOCKET_UNIX, true, NULL, &res))
		sc_check_denied(&res, SYS_socket, "socket");
}

/* a denied ioctl on a raw terminal: the line, and the terminal cooked again */
TEST(seccomp, denied_ioctl_restores_the_terminal)
{
	struct sc_result res;
	struct termios before, after;
	struct lkvm_err e = { "" };
	struct term t;
	int master, slave;

	if (!sc_usable())
		return;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) || unlockpt(master)) {
		test_skip("no pty here: %s", strerror(errno));
		if (master >= 0)
			close(master);
		return;
	}
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	REQUIRE(slave >= 0);
	REQUIRE(tcgetattr(slave, &before) == 0);
	REQUIRE(before.c_lflag & ICANON);
	memset(&t, 0, sizeof(t));
	t.in_fd = slave;
	t.in_tty = true;
	REQUIRE(term_raw(&t, &e) == 0);
	REQUIRE(tcgetattr(slave, &after) == 0);
	REQUIRE(!(after.c_lflag & ICANON));

	if (sc_run(SC_TIOCSTI, false, &t, &res)) {
		sc_check_denied(&res, SYS_ioctl, "ioctl");
		CHECK(tcgetattr(slave, &after) == 0);
		CHECK(after.c_lflag & ICANON);
		CHECK(after.c_lflag & ECHO);
	}
	/* the same terminal, raw again: TCGETS is on the list */
	term_restore(&t);
	REQUIRE(term_raw(&t, &e) == 0);
	if (sc_run(SC_ALLOWED, false, &t, &res)) {
		CHECK(WIFEXITED(res.status));
		CHECK_EQ_U64(WEXITSTATUS(res.status), 0);
	}
	term_restore(&t);
	close(slave);
	close(master);
}

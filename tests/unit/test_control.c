// SPDX-License-Identifier: GPL-2.0
/*
 * core/control.c and `lkvm list/stop`: the control directory is checked,
 * only lkvm's own stale sockets are removed, the server never waits on a
 * client, clients give up (issues 14 and 20).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "run.h"
#include "test.h"

/* a fresh XDG_RUNTIME_DIR for this test (each test runs in its own child) */
static void ctl_tmp_runtime(char *rt, size_t len)
{
	snprintf(rt, len, "/tmp/lkvm-ctl-XXXXXX");
	REQUIRE(mkdtemp(rt));
	setenv("XDG_RUNTIME_DIR", rt, 1);
}

static bool ctl_exists(const char *dir, const char *name)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

/* a UNIX socket bound at dir/name; listening or not */
static int ctl_bind(const char *dir, const char *name, bool do_listen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.80s/%.20s", dir, name);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (do_listen && listen(fd, 4) < 0))
		return -1;
	return fd;
}

static double ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int ctl_run_list(void)
{
	char *argv[] = { "list", NULL };
	FILE *saved = stdout;
	int r;

	/* cmd_list prints the VMs it finds: keep the test output clean */
	stdout = fopen("/dev/null", "w");
	r = cmd_list(1, argv);
	fclose(stdout);
	stdout = saved;
	return r;
}

TEST(control, dir_created_0700)
{
	char rt[64], dir[128];
	struct lkvm_err e;
	struct stat st;
	int fd;

	ctl_tmp_runtime(rt, sizeof(rt));
	umask(0);
	fd = control_dir_open(dir, sizeof(dir), true, &e);
	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(stat(dir, &st) == 0);
	CHECK_EQ_U64(st.st_mode & 07777, 0700);
	/* absent and not to be created: -ENOENT, no error */
	rmdir(dir);
	CHECK_EQ_U64(control_dir_open(dir, sizeof(dir), false, &e), (uint64_t)-ENOENT);
}

/* a symlinked control directory is refused: list must not act inside its target */
TEST(control, dir_symlink_refused)
{
	char rt[64], dir[128], target[128], victim[192];
	struct lkvm_err e = { "" };
	int fd;

	ctl_tmp_runtime(rt, sizeof(rt));
	snprintf(target, sizeof(target), "%s/elsewhere", rt);
	REQUIRE(mkdir(target, 0700) == 0);
	snprintf(dir, sizeof(dir), "%s/lkvm", rt);
	REQUIRE(symlink(target, dir) == 0);
	/* a stale socket in the target: lkvm would remove it if it followed the link */
	fd = ctl_bind(target, "vm1.sock", false);
	REQUIRE(fd >= 0);
	close(fd);
	snprintf(victim, sizeof(victim), "%s/data.sock", target);
	fd = open(victim, O_CREAT | O_WRONLY, 0644);
	REQUIRE(fd >= 0);
	close(fd);

	CHECK(control_dir_open(dir, sizeof(dir), false, &e) < 0);
	CHECK_CONTAINS(e.msg, "symlink");
	CHECK(control_dir_open(dir, sizeof(dir), true, &e) < 0);
	CHECK(ctl_run_list() != 0);
	CHECK(ctl_exists(target, "vm1.sock"));
	CHECK(ctl_exists(target, "data.sock"));
}

TEST(control, dir_group_writable_refused)
{
	char rt[64], dir[128];
	struct lkvm_err e = { "" };

	ctl_tmp_runtime(rt, sizeof(rt));
	snprintf(dir, sizeof(dir), "%s/lkvm", rt);
	REQUIRE(mkdir(dir, 0700) == 0);
	REQUIRE(chmod(dir, 0777) == 0);
	CHECK(control_dir_open(dir, sizeof(dir), true, &e) < 0);
	CHECK_CONTAINS(e.msg, "writable by others");
	CHECK(ctl_run_list() != 0);
	REQUIRE(chmod(dir, 0700) == 0);
	CHECK(control_dir_open(dir, sizeof(dir), true, &e) >= 0);
}

TEST(control, dir_foreign_owner_refused)
{
	char rt[64], dir[128];
	struct lkvm_err e = { "" };

	if (geteuid() != 0) {
		test_skip("needs root to give the directory to another uid");
		return;
	}
	ctl_tmp_runtime(rt, sizeof(rt));
	snprintf(dir, sizeof(dir), "%s/lkvm", rt);
	REQUIRE(mkdir(dir, 0700) == 0);
	REQUIRE(chown(dir, 12345, 12345) == 0);
	CHECK(control_dir_open(dir, sizeof(dir), true, &e) < 0);
	CHECK_CONTAINS(e.msg, "belongs to uid 12345");
}

/* a listening socket that never answers: list must give up, not hang */
static void *ctl_silent_server(void *arg)
{
	int fd = *(int *)arg;

	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			return NULL;
		/* hold it open, never answer */
	}
}

/*
 * list only ever removes a stale socket of this user: never a regular
 * file, a FIFO, a live socket, or a socket of another uid.
 */
TEST(control, list_removes_only_own_stale_sockets)
{
	char rt[64], dir[128], p[256];
	struct lkvm_err e;
	pthread_t t;
	int fd, live;
	double t0;

	ctl_tmp_runtime(rt, sizeof(rt));
	fd = control_dir_open(dir, sizeof(dir), true, &e);
	REQUIRE(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/file.sock", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "data", 4) == 4);
	close(fd);
	snprintf(p, sizeof(p), "%s/fifo.sock", dir);
	REQUIRE(mkfifo(p, 0600) == 0);
	fd = ctl_bind(dir, "stale.sock", false);
	REQUIRE(fd >= 0);
	close(fd);
	live = ctl_bind(dir, "other.sock", true);
	REQUIRE(live >= 0);
	REQUIRE(pthread_create(&t, NULL, ctl_silent_server, &live) == 0);
	if (geteuid() == 0) {
		fd = ctl_bind(dir, "foreign.sock", false);
		REQUIRE(fd >= 0);
		close(fd);
		snprintf(p, sizeof(p), "%s/foreign.sock", dir);
		REQUIRE(lchown(p, 12345, 12345) == 0);
	}

	t0 = ctl_now();
	ctl_run_list();
	CHECK(ctl_now() - t0 < CONTROL_CLIENT_MS / 1000.0 + 2);
	CHECK(ctl_exists(dir, "file.sock"));
	CHECK(ctl_exists(dir, "fifo.sock"));
	CHECK(ctl_exists(dir, "other.sock"));
	CHECK(!ctl_exists(dir, "stale.sock"));
	if (geteuid() == 0)
		CHECK(ctl_exists(dir, "foreign.sock"));
	/* stop on the same names: nothing removed either */
	CHECK(control_request_timeout("file", "stop", stdout, 300, &e) != 0);
	CHECK(control_request_timeout("fifo", "stop", stdout, 300, &e) != 0);
	CHECK(ctl_exists(dir, "file.sock"));
	CHECK(ctl_exists(dir, "fifo.sock"));
}

/* lkvm run with a name whose path holds something else: refused, nothing touched */
TEST(control, open_over_non_socket_refused)
{
	char rt[64], dir[128], p[256];
	struct control c = { 0 };
	struct evloop loop;
	struct lkvm_err e = { "" };
	int fd;

	ctl_tmp_runtime(rt, sizeof(rt));
	fd = control_dir_open(dir, sizeof(dir), true, &e);
	REQUIRE(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/vm.sock", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(evloop_init(&loop, &e) == 0);
	CHECK(control_open(&c, "vm", &loop, &e) != 0);
	CHECK_CONTAINS(e.msg, "not a stale lkvm socket");
	CHECK(ctl_exists(dir, "vm.sock"));
	evloop_exit(&loop);
}

/* a server under test: the main loop in a thread, one command "info" */
struct ctl_server {
	struct control c;
	struct evloop loop;
	atomic_bool stop;
	atomic_int served;
	pthread_t t;
};

static int ctl_handle(void *opaque, const char *cmd, FILE *out, struct lkvm_err *e)
{
	struct ctl_server *s = opaque;

	atomic_fetch_add(&s->served, 1);
	if (!strcmp(cmd, "info")) {
		fprintf(out, "name=test\n");
		return 0;
	}
	if (!strcmp(cmd, "stopnow")) {
		/* like run.c's "stop": the main loop does not turn again */
		atomic_store(&s->stop, true);
		return 0;
	}
	if (!strcmp(cmd, "big")) {
		for (int i = 0; i < 20000; i++)
			fprintf(out, "line %d of a big answer\n", i);
		return 0;
	}
	return err_set(e, "unknown command");
}

static void *ctl_server_loop(void *arg)
{
	struct ctl_server *s = arg;

	while (!atomic_load(&s->stop))
		evloop_run_once(&s->loop, 20);
	return NULL;
}

static void ctl_server_start(struct ctl_server *s, const char *name)
{
	struct lkvm_err e = { "" };

	REQUIRE(evloop_init(&s->loop, &e) == 0);
	s->c.handle = ctl_handle;
	s->c.opaque = s;
	if (!CHECK(control_open(&s->c, name, &s->loop, &e) == 0)) {
		fprintf(stderr, "%s\n", e.msg);
		return;
	}
	REQUIRE(pthread_create(&s->t, NULL, ctl_server_loop, s) == 0);
}

static void ctl_server_stop(struct ctl_server *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->t, NULL);
	control_close(&s->c, &s->loop);
	evloop_exit(&s->loop);
}

TEST(control, request_answer_and_socket_mode)
{
	static struct ctl_server s;
	char rt[64], p[256], buf[256] = "";
	struct lkvm_err e = { "" };
	struct stat st;
	FILE *mem;

	ctl_tmp_runtime(rt, sizeof(rt));
	umask(0);
	ctl_server_start(&s, "vm");
	snprintf(p, sizeof(p), "%s/lkvm/vm.sock", rt);
	REQUIRE(lstat(p, &st) == 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ_U64(st.st_mode & 0777, 0600);
	mem = fmemopen(buf, sizeof(buf) - 1, "w");
	REQUIRE(mem);
	CHECK(control_request("vm", "info", mem, &e) == 0);
	fclose(mem);
	CHECK_STR(buf, "name=test\n");
	CHECK(control_request("vm", "nonsense", stdout, &e) != 0);
	CHECK_CONTAINS(e.msg, "unknown command");
	/* an answer larger than the socket buffers still arrives whole */
	mem = fopen("/dev/null", "w");
	CHECK(control_request("vm", "big", mem, &e) == 0);
	fclose(mem);
	ctl_server_stop(&s);
	CHECK(!ctl_exists(rt, "lkvm/vm.sock"));
}

/* connects to dir/NAME.sock (blocking) */
static int ctl_client_fd(const char *rt, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.60s/lkvm/%.20s.sock", rt, name);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

/*
 * A client that trickles its command one byte at a time must cost the VM
 * nothing: others are served meanwhile, and it is cut at the deadline.
 */
TEST(control, trickling_client_does_not_stall)
{
	static struct ctl_server s;
	char rt[64], c;
	struct lkvm_err e = { "" };
	double t0, worst = 0;
	int fd, i;

	ctl_tmp_runtime(rt, sizeof(rt));
	ctl_server_start(&s, "vm");
	fd = ctl_client_fd(rt, "vm");
	REQUIRE(fd >= 0);
	t0 = ctl_now();
	for (i = 0; i < 40 && ctl_now() - t0 < CONTROL_SERVE_MS / 1000.0 + 1; i++) {
		double t1 = ctl_now();
		FILE *null = fopen("/dev/null", "w");

		if (send(fd, "i", 1, MSG_NOSIGNAL) < 0) {
			fclose(null);
			break; /* cut off: the deadline */
		}
		CHECK(control_request_timeout("vm", "info", null, 1000, &e) == 0);
		fclose(null);
		if (ctl_now() - t1 > worst)
			worst = ctl_now() - t1;
		usleep(90000);
	}
	/* served at once each time, never behind the trickler */
	CHECK(worst < 0.5);
	/* the trickler was hung up on at the deadline, never answered */
	CHECK(recv(fd, &c, 1, 0) <= 0);
	CHECK(ctl_now() - t0 < CONTROL_SERVE_MS / 1000.0 + 1.5);
	close(fd);
	ctl_server_stop(&s);
}

/* a client that never reads its answer cannot hold the server either */
TEST(control, many_silent_clients_do_not_stall)
{
	static struct ctl_server s;
	int fds[CONTROL_CLIENTS + 4], i;
	char rt[64];
	struct lkvm_err e = { "" };
	double t0;

	ctl_tmp_runtime(rt, sizeof(rt));
	ctl_server_start(&s, "vm");
	for (i = 0; i < CONTROL_CLIENTS + 4; i++)
		fds[i] = ctl_client_fd(rt, "vm");
	/*
	 * Every slot taken by silent clients (two rounds of them): a real one
	 * waits in the backlog and gets in once they expire.
	 */
	t0 = ctl_now();
	CHECK(control_request("vm", "info", fopen("/dev/null", "w"), &e) == 0);
	CHECK(ctl_now() - t0 < 2 * CONTROL_SERVE_MS / 1000.0 + 1);
	for (i = 0; i < CONTROL_CLIENTS + 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ctl_server_stop(&s);
}

/* a fake VM socket that floods: the client stops at CONTROL_ANSWER_MAX */
static void *ctl_flood_server(void *arg)
{
	int fd = *(int *)arg, c;
	static char junk[65536];

	memset(junk, 'x', sizeof(junk));
	c = accept(fd, NULL, NULL);
	if (c < 0)
		return NULL;
	while (send(c, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
		;
	close(c);
	return NULL;
}

TEST(control, client_gives_up_on_silent_and_flooding_servers)
{
	char rt[64], dir[128];
	struct lkvm_err e = { "" };
	pthread_t t1, t2;
	int silent, flood, fd;
	double t0;

	ctl_tmp_runtime(rt, sizeof(rt));
	fd = control_dir_open(dir, sizeof(dir), true, &e);
	REQUIRE(fd >= 0);
	close(fd);
	silent = ctl_bind(dir, "silent.sock", true);
	flood = ctl_bind(dir, "flood.sock", true);
	REQUIRE(silent >= 0 && flood >= 0);
	REQUIRE(pthread_create(&t1, NULL, ctl_silent_server, &silent) == 0);
	REQUIRE(pthread_create(&t2, NULL, ctl_flood_server, &flood) == 0);

	t0 = ctl_now();
	CHECK(control_request_timeout("silent", "stat", stdout, 500, &e) != 0);
	CHECK_CONTAINS(e.msg, "did not answer");
	CHECK(ctl_now() - t0 < 2);

	t0 = ctl_now();
	CHECK(control_request_timeout("flood", "stat", stdout, 3000, &e) != 0);
	CHECK_CONTAINS(e.msg, "answered more than");
	CHECK(ctl_now() - t0 < 3.5);

	/* a socket that never accepts (backlog full): connect gives up too */
	{
		int never = ctl_bind(dir, "never.sock", true), n = 0;

		REQUIRE(never >= 0);
		/* fill its backlog with non-blocking connects */
		for (n = 0; n < 64; n++) {
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

			snprintf(sa.sun_path, sizeof(sa.sun_path), "%.80s/never.sock", dir);
			if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				break;
		}
		t0 = ctl_now();
		CHECK(control_request_timeout("never", "stat", stdout, 500, &e) != 0);
		CHECK(ctl_now() - t0 < 2);
	}
}

/*
 * The socket's mode is set at bind time, never by path afterwards: a racer
 * that swaps a symlink to a victim in at that path cannot get it chmod'ed.
 */
struct ctl_racer {
	char path[256], victim[256];
	atomic_bool stop;
};

static void *ctl_race(void *arg)
{
	struct ctl_racer *r = arg;

	while (!atomic_load(&r->stop)) {
		unlink(r->path);
		if (symlink(r->victim, r->path) == 0)
			sched_yield();
	}
	return NULL;
}

TEST(control, no_chmod_through_swapped_symlink)
{
	static struct ctl_racer r;
	char rt[64], dir[128];
	struct lkvm_err e = { "" };
	struct stat st;
	pthread_t t;
	int fd, i;

	ctl_tmp_runtime(rt, sizeof(rt));
	fd = control_dir_open(dir, sizeof(dir), true, &e);
	REQUIRE(fd >= 0);
	close(fd);
	snprintf(r.path, sizeof(r.path), "%s/vm.sock", dir);
	snprintf(r.victim, sizeof(r.victim), "%s/victim", rt);
	fd = open(r.victim, O_CREAT | O_WRONLY, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(fchmod(fd, 0644) == 0);
	close(fd);
	REQUIRE(pthread_create(&t, NULL, ctl_race, &r) == 0);
	for (i = 0; i < 300; i++) {
		struct control c = { 0 };
		struct evloop loop;

		REQUIRE(evloop_init(&loop, &e) == 0);
		if (control_open(&c, "vm", &loop, &e) == 0)
			control_close(&c, &loop);
		evloop_exit(&loop);
	}
	atomic_store(&r.stop, true);
	pthread_join(t, NULL);
	REQUIRE(stat(r.victim, &st) == 0);
	CHECK_EQ_U64(st.st_mode & 0777, 0644);
}

/* kvmtool's spellings of the control commands (issue 15) */
TEST(control, command_spellings)
{
	static struct ctl_server s;
	char rt[64];
	char *stop_name[] = { "stop", "--name", "vm", NULL };
	char *stop_n[] = { "stop", "-n", "nosuch", NULL };
	char *stop_help[] = { "stop", "--help", NULL };
	char *stat_all[] = { "stat", "--all", NULL };
	char *debug_d[] = { "debug", "-n", "vm", "-d", NULL };
	char *both[] = { "stop", "vm", "--all", NULL };
	FILE *saved = stdout;

	ctl_tmp_runtime(rt, sizeof(rt));
	ctl_server_start(&s, "vm");
	stdout = fopen("/dev/null", "w");
	CHECK_EQ_U64(cmd_stop(2, stop_help), 0);
	CHECK_EQ_U64(cmd_stop(3, stop_n), 1);
	CHECK_EQ_U64(cmd_stat(2, stat_all), 1); /* stat takes one VM */
	CHECK_EQ_U64(cmd_stop(3, both), 1);
	/* the test server answers "dump" and "stop" with ERR: reached, not parsed away */
	CHECK_EQ_U64(cmd_debug(4, debug_d), 1);
	CHECK_EQ_U64(atomic_load(&s.served), 1);
	CHECK_EQ_U64(cmd_stop(3, stop_name), 1);
	CHECK_EQ_U64(atomic_load(&s.served), 2);
	fclose(stdout);
	stdout = saved;
	ctl_server_stop(&s);
}

/* "stop" ends the main loop: the client still gets its OK (it said "hung up") */
TEST(control, answer_reaches_client_when_loop_stops)
{
	static struct ctl_server s;
	char rt[64];
	struct lkvm_err e = { "" };
	pthread_t t;

	ctl_tmp_runtime(rt, sizeof(rt));
	ctl_server_start(&s, "vm");
	CHECK(control_request_timeout("vm", "stopnow", stdout, 2000, &e) == 0);
	/* the loop thread has left; control_close runs after it */
	t = s.t;
	pthread_join(t, NULL);
	control_close(&s.c, &s.loop);
	evloop_exit(&s.loop);
}

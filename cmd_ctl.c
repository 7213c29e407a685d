// SPDX-License-Identifier: GPL-2.0
/* lkvm list | stop | pause | resume | debug | stat: clients of the control socket. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "run.h"

static int ctl_fail(const struct lkvm_err *e)
{
	fprintf(stderr, "lkvm: %s\n", e->msg);
	return 1;
}

/*
 * Every NAME.sock in the control directory that is a socket of this user,
 * in no particular order. Anything else there (a file, a FIFO, a symlink,
 * someone else's socket) is not lkvm's: never connected to, never removed.
 */
static int ctl_for_each(int (*fn)(const char *name, void *opaque), void *opaque)
{
	char dir[256], name[CONTROL_NAME_MAX + 1];
	struct lkvm_err e;
	struct dirent *de;
	int dirfd, fd, r = 0;
	DIR *d;

	dirfd = control_dir_open(dir, sizeof(dir), false, &e);
	if (dirfd == -ENOENT)
		return 0; /* no directory: no VM has run yet */
	if (dirfd < 0)
		return ctl_fail(&e);
	fd = dup(dirfd);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		close(dirfd);
		e.msg[0] = 0;
		err_errno(&e, errno, "cannot read the control directory %s", dir);
		return ctl_fail(&e);
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n <= 5 || n - 5 > CONTROL_NAME_MAX || strcmp(de->d_name + n - 5, ".sock"))
			continue;
		memcpy(name, de->d_name, n - 5);
		name[n - 5] = 0;
		if (control_name_ok(name) && control_is_own_socket(dirfd, de->d_name))
			r |= fn(name, opaque);
	}
	closedir(d);
	close(dirfd);
	return r;
}

static int ctl_list_one(const char *name, void *opaque)
{
	char line[512] = "";
	struct lkvm_err e;
	FILE *mem;

	(void)opaque;
	mem = fmemopen(line, sizeof(line) - 1, "w");
	if (!mem)
		return 1;
	/* a dead VM's socket is removed by control_request: it just drops out */
	if (control_request(name, "info", mem, &e) == 0) {
		fclose(mem);
		fputs(line, stdout);
		return 0;
	}
	fclose(mem);
	return 0;
}

int cmd_list(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "lkvm: list takes no arguments\n");
		return 1;
	}
	return ctl_for_each(ctl_list_one, NULL);
}

/* lkvm CMD NAME: one request, its answer on stdout */
static int ctl_simple(int argc, char **argv, const char *cmd)
{
	struct lkvm_err e;

	if (argc != 2) {
		fprintf(stderr, "lkvm: usage: lkvm %s NAME\n", argv[0]);
		return 1;
	}
	if (control_request(argv[1], cmd, stdout, &e))
		return ctl_fail(&e);
	return 0;
}

static int ctl_stop_one(const char *name, void *opaque)
{
	struct lkvm_err e;

	(void)opaque;
	if (control_request(name, "stop", stdout, &e)) {
		/* one that died meanwhile is not an error of stop --all */
		if (strstr(e.msg, "gone") || strstr(e.msg, "no VM named"))
			return 0;
		return ctl_fail(&e);
	}
	printf("stopped %s\n", name);
	return 0;
}

int cmd_stop(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--all"))
		return ctl_for_each(ctl_stop_one, NULL);
	return ctl_simple(argc, argv, "stop");
}

int cmd_pause(int argc, char **argv)
{
	return ctl_simple(argc, argv, "pause");
}

int cmd_resume(int argc, char **argv)
{
	return ctl_simple(argc, argv, "resume");
}

int cmd_stat(int argc, char **argv)
{
	return ctl_simple(argc, argv, "stat");
}

int cmd_debug(int argc, char **argv)
{
	char *args[2] = { argv[0], NULL };

	if (argc != 3 || strcmp(argv[2], "--dump")) {
		fprintf(stderr, "lkvm: usage: lkvm debug NAME --dump\n");
		return 1;
	}
	args[1] = argv[1];
	return ctl_simple(2, args, "dump");
}

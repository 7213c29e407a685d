// SPDX-License-Identifier: GPL-2.0
/* lkvm list | stop | pause | resume | debug | stat: clients of the control socket. */
#include <dirent.h>
#include <stdbool.h>
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

/* what one control command was asked: a VM by name, or every VM */
struct ctl_args {
	const char *name;
	bool all;
	bool dump; /* debug: -d, --dump */
};

/*
 * lkvm CMD [NAME] [-n|--name NAME] [-a|--all] [-d|--dump] [-h|--help]: lkvm's
 * spelling (NAME) and kvmtool's (--name). 0, 1 for help (printed), -1.
 */
static int ctl_parse(int argc, char **argv, const char *usage, bool can_all, bool can_dump,
		     struct ctl_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		const char *w = argv[i];

		if (!strcmp(w, "-h") || !strcmp(w, "--help")) {
			printf("usage: %s\n", usage);
			return 1;
		} else if (!strcmp(w, "-n") || !strcmp(w, "--name")) {
			if (++i == argc) {
				err_print("%s needs a VM name (usage: %s)", w, usage);
				return -1;
			}
			w = argv[i];
			goto name;
		} else if (!strncmp(w, "--name=", 7)) {
			w += 7;
			goto name;
		} else if (can_all && (!strcmp(w, "-a") || !strcmp(w, "--all"))) {
			a->all = true;
		} else if (can_dump && (!strcmp(w, "-d") || !strcmp(w, "--dump"))) {
			a->dump = true;
		} else if (w[0] == '-') {
			err_print("%s: unknown option %s (usage: %s)", argv[0], w, usage);
			return -1;
		} else {
name:
			if (a->name) {
				err_print("%s: one VM name only (usage: %s)", argv[0], usage);
				return -1;
			}
			a->name = w;
		}
	}
	if (a->all && a->name) {
		err_print("%s: a name or --all, not both (usage: %s)", argv[0], usage);
		return -1;
	}
	if (!a->all && !a->name) {
		err_print("%s: which VM? (usage: %s)", argv[0], usage);
		return -1;
	}
	return 0;
}

int cmd_list(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: lkvm list\n"
		       "Lists the running VMs of this user: name, pid, state, cpus, memory,\n"
		       "uptime. A VM that does not answer within %d s is left out.\n",
		       CONTROL_CLIENT_MS / 1000);
		return 0;
	}
	if (argc > 1) {
		err_print("list takes no arguments (usage: lkvm list)");
		return 1;
	}
	return ctl_for_each(ctl_list_one, NULL);
}

static int ctl_one(const char *name, void *opaque)
{
	const char *cmd = opaque;
	struct lkvm_err e;

	if (control_request(name, cmd, stdout, &e)) {
		/* with --all, one that died meanwhile is not an error */
		if (strstr(e.msg, "gone") || strstr(e.msg, "no VM named"))
			return 0;
		return ctl_fail(&e);
	}
	if (!strcmp(cmd, "stop"))
		printf("stopped %s\n", name);
	return 0;
}

/* lkvm CMD NAME | --all: one request each, the answers on stdout */
static int ctl_run(int argc, char **argv, const char *cmd, const char *usage, bool can_all)
{
	struct ctl_args a;
	struct lkvm_err e;
	int r = ctl_parse(argc, argv, usage, can_all, false, &a);

	if (r)
		return r > 0 ? 0 : 1;
	if (a.all)
		return ctl_for_each(ctl_one, (void *)cmd);
	if (control_request(a.name, cmd, stdout, &e))
		return ctl_fail(&e);
	return 0;
}

int cmd_stop(int argc, char **argv)
{
	return ctl_run(argc, argv, "stop", "lkvm stop NAME | -n NAME | --all (the VM exits 4)",
		       true);
}

int cmd_pause(int argc, char **argv)
{
	return ctl_run(argc, argv, "pause", "lkvm pause NAME | -n NAME | --all", true);
}

int cmd_resume(int argc, char **argv)
{
	return ctl_run(argc, argv, "resume", "lkvm resume NAME | -n NAME | --all", true);
}

int cmd_stat(int argc, char **argv)
{
	return ctl_run(argc, argv, "stat", "lkvm stat NAME | -n NAME", false);
}

int cmd_debug(int argc, char **argv)
{
	static const char usage[] = "lkvm debug NAME --dump | -n NAME -d";
	struct ctl_args a;
	struct lkvm_err e;
	int r = ctl_parse(argc, argv, usage, false, true, &a);

	if (r)
		return r > 0 ? 0 : 1;
	if (!a.dump) {
		err_print("debug: what? only --dump (usage: %s)", usage);
		return 1;
	}
	if (control_request(a.name, "dump", stdout, &e))
		return ctl_fail(&e);
	return 0;
}

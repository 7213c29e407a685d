// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm's init for a guest whose root is a host directory over virtio-9p
 * (lkvm run -d DIR): lkvm boots it as /virt/init when DIR has one. It mounts
 * /proc, /sys and /dev, then runs the command after "--" on the kernel
 * command line (its own argv), or /bin/sh, waits for it, and powers the
 * guest off with that command's fate. libc-free (guest/include/gsys.h), so
 * one source serves arm64 and arm guests of either byte order.
 */
#include "gsys.h"

#define NR_wait4_options 0
#define SIGCHLD 17

static unsigned long slen(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

static void say(const char *a, const char *b)
{
	sys3(NR_write, 2, "lkvm-init: ", 11);
	sys3(NR_write, 2, a, slen(a));
	if (b)
		sys3(NR_write, 2, b, slen(b));
	sys3(NR_write, 2, "\n", 1);
}

static void mount_one(const char *src, const char *dst, const char *type)
{
	long r;

	sys3(NR_mkdirat, AT_FDCWD, dst, 0755);
	r = sys5(NR_mount, src, dst, type, 0, 0);
	/* EBUSY: already there (the kernel may mount devtmpfs itself) */
	if (r < 0 && r != -16)
		say("cannot mount ", dst);
}

void start_c(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	static char *sh[] = { "/bin/sh", 0 };
	char **cmd = argc > 1 ? argv + 1 : sh;
	long pid, status = 0;

	mount_one("proc", "/proc", "proc");
	mount_one("sysfs", "/sys", "sysfs");
	mount_one("devtmpfs", "/dev", "devtmpfs");

	pid = sys5(NR_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		sys3(NR_execve, cmd[0], cmd, envp);
		say("cannot run ", cmd[0]);
		sys1(NR_exit_group, 127);
	}
	if (pid < 0)
		say("cannot fork", 0);
	else
		while (sys4(NR_wait4, pid, &status, NR_wait4_options, 0) != pid)
			;
	sys0(NR_sync);
	/* the command's fate becomes lkvm's: power off when it succeeded */
	sys4(NR_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
	     status == 0 ? LINUX_REBOOT_CMD_POWER_OFF : LINUX_REBOOT_CMD_RESTART, 0);
	for (;;) {
		static long hour[2] = { 3600, 0 };

		sys2(NR_nanosleep, hour, 0);
	}
}

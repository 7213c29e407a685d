// SPDX-License-Identifier: GPL-2.0
/*
 * ctlprobe — misbehaving peers of lkvm's control socket, for the arm tier
 * (built static for the emulated host by a job's @make):
 *
 *   ctlprobe trickle PATH INTERVAL_MS COUNT   a client sending one byte per interval
 *   ctlprobe silent PATH                      a "VM" that accepts and never answers
 *   ctlprobe flood PATH                       a "VM" that answers without end
 *   ctlprobe never PATH                       a "VM" that never accepts (backlog full)
 *
 * The servers run until killed. Exit status 0, or 1 with a line on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int probe_sock(const char *path, struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (fd < 0 || strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "ctlprobe: bad socket path %s\n", path);
		exit(1);
	}
	strcpy(sa->sun_path, path);
	return fd;
}

static int probe_listen(const char *path, int backlog)
{
	struct sockaddr_un sa;
	int fd = probe_sock(path, &sa);

	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
		fprintf(stderr, "ctlprobe: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	static char junk[65536];
	struct sockaddr_un sa;
	int fd, c, i;

	if (argc == 5 && !strcmp(argv[1], "trickle")) {
		fd = probe_sock(argv[2], &sa);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "ctlprobe: connect %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		for (i = 0; i < atoi(argv[4]); i++) {
			if (send(fd, "i", 1, MSG_NOSIGNAL) != 1)
				break; /* hung up on: what lkvm should do */
			usleep(atoi(argv[3]) * 1000);
		}
		printf("CTLPROBE-TRICKLE sent=%d\n", i);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "silent")) {
		fd = probe_listen(argv[2], 16);
		for (;;)
			accept(fd, NULL, NULL); /* held open, never answered */
	}
	if (argc == 3 && !strcmp(argv[1], "flood")) {
		memset(junk, 'x', sizeof(junk));
		fd = probe_listen(argv[2], 16);
		for (;;) {
			c = accept(fd, NULL, NULL);
			if (fork() == 0) {
				while (send(c, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
					;
				_exit(0);
			}
			close(c);
		}
	}
	if (argc == 3 && !strcmp(argv[1], "never")) {
		fd = probe_listen(argv[2], 0);
		for (;;)
			pause();
	}
	fprintf(stderr, "usage: ctlprobe trickle PATH MS COUNT | silent PATH | flood PATH | never PATH\n");
	return 1;
}

// SPDX-License-Identifier: GPL-2.0
/* Helper threads start with asynchronous signals blocked (include/thread.h). */
#include <signal.h>

#include "thread.h"

/*
 * Faults and seccomp's SIGSYS stay open: a forced signal that is blocked
 * kills lkvm at once, without the handler that restores the terminal and
 * says why.
 */
void thread_async_signals(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGSYS);
}

int thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	thread_async_signals(&all);
	/* the new thread inherits the mask at creation: no window before it blocks */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_THREAD_H
#define LKVM_THREAD_H

#include <pthread.h>
#include <signal.h>

/*
 * Starts a thread with every asynchronous signal blocked (faults and
 * seccomp's SIGSYS stay open: blocking a forced signal kills lkvm without
 * a word). SIGINT/TERM/HUP belong to the main thread: taken by a device
 * thread they would end lkvm without the orderly stop that flushes disks.
 * Returns pthread_create's result.
 */
int thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
/* every signal but the forced ones (faults, SIGSYS): what thread_start blocks */
void thread_async_signals(sigset_t *set);

#endif

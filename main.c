// SPDX-License-Identifier: GPL-2.0
/* lkvm's entry point: the commands are in commands.c (so tests can link them). */
#include "commands.h"

#ifndef LKVM_VERSION
#define LKVM_VERSION "0.1"
#endif

int main(int argc, char **argv)
{
	return lkvm_main(argc, argv, LKVM_VERSION);
}

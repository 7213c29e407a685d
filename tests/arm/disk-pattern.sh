#!/bin/sh
# disk-pattern.sh — prints the 2 MiB test disk: numbered lines, so a wrong
# sector or a byte-swapped transfer changes the checksum. Runs in the
# emulated host (busybox awk) and on x86 (mawk/gawk) with the same bytes.
# FNV-1a of its first MiB (tests/guests/tools/fnv1a.c): 2296554c.
awk 'BEGIN { for (i = 0; i < 50000; i++) printf "lkvm-%08d-blk-data-pattern-0123456789abcdef\n", i }' |
	head -c 2097152

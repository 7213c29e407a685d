// SPDX-License-Identifier: GPL-2.0
/*
 * tests/crash/check.c — checks one disk image left by a killed lkvm against
 * what the guest's crash writer (CRASH_WRITE= in tests/guests/init/init.c)
 * planned and saw acknowledged.
 *
 *   check IMAGE.raw [-p PREV.raw] LOG...
 *
 * IMAGE.raw: the guest's disk as raw bytes (a qcow2 image converted with
 * qemu-img first). LOG...: the guest console of every run on this image so
 * far, oldest first (a chain: each run starts on the image the run before
 * it was killed on). From the logs (complete lines only):
 *   CRASH-START blocks=B span=S seq0=Q endian=E arch=A end
 *   CRASH-PLAN seq=N ops=w3,z16,... end   op i has sequence number N + i:
 *                                         w<b> a record into block b,
 *                                         z<b> blocks b..b+S-1 punched (zeroes)
 *   CRASH-ACK seq=N end                   every op of this run up to N was
 *                                         followed by a completed flush
 *   CRASH-FAIL ...                        the guest saw an error: a failure
 *                                         (after "CRASH-FAIL punch seq=N"
 *                                         that punch counts as not done,
 *                                         and the image is still checked)
 * Each block b of the region must hold, with L = the last acknowledged op
 * that touched b (if any):
 *   - a valid record (magic, byte-order mark matching E, "<A> <E>",
 *     checksum, its own block number, the seq0 of the run that planned it)
 *     whose seq was planned as a write to b and is >= L's seq, or
 *   - zeroes, if no op on b was ever acknowledged (the fresh image) or some
 *     punch covering b has a seq >= L's seq.
 * Anything else (a lost acknowledged write, an older record, a torn or
 * misplaced one, garbage) fails. With -p PREV.raw (the image as the run
 * before left it), a block that no op of the last run touched must also be
 * exactly as it was in PREV.raw: nothing but the guest's writes may change
 * the disk.
 *
 * Prints one line, "ok ..." with counts (run_acked: ops of the last run
 * acknowledged, run_acked_writes: the writes among them; chain_acked: of
 * all runs; acked_blocks: blocks some
 * acknowledged op touched, all verified; acked_write_blocks: those whose
 * last acknowledged op is a write, which is there or overwritten by a later
 * planned op; records, zeroes: what the region holds; newer_than_acked:
 * blocks holding an op newer than their last acknowledged one;
 * untouched_same: blocks found as the run before left them) or
 * "FAIL <reason>", plus up to 8 indented lines on the blocks that failed.
 * Exit 0 if ok, 1 if not, 2 on bad usage or unreadable input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BS 4096

struct op {
	uint32_t seq;
	uint32_t blk;
	uint32_t seq0; /* of the run that planned it */
	char kind;     /* 'w', 'z', or 'x' for a punch that failed */
	int acked;
};

static struct op *ops;
static size_t nops, capops;
static long blocks = -1, span = -1;
static char endian[16], arch[16];
static int guest_failed;
static char guest_fail_line[256];

static void die(const char *fmt, const char *arg)
{
	printf("FAIL ");
	printf(fmt, arg);
	printf("\n");
	exit(2);
}

static int add_op(char kind, uint32_t seq, uint32_t blk, uint32_t seq0)
{
	if (nops == capops) {
		capops = capops ? capops * 2 : 4096;
		ops = realloc(ops, capops * sizeof(*ops));
		if (!ops)
			die("%s", "out of memory");
	}
	ops[nops++] = (struct op){ .seq = seq, .blk = blk, .seq0 = seq0, .kind = kind };
	return 0;
}

/* a complete line ends in " end" (a killed guest leaves its last line cut) */
static int complete(const char *s)
{
	size_t n = strlen(s);

	return n >= 4 && !strcmp(s + n - 4, " end");
}

static void read_log(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	uint32_t seq0 = 0;
	int started = 0;

	if (!f)
		die("cannot open log %s", path);
	while (fgets(line, sizeof(line), f)) {
		char *s, *p;

		line[strcspn(line, "\r\n")] = 0;
		if ((s = strstr(line, "CRASH-FAIL"))) {
			unsigned long seq;

			/* the first one is reported; a failed punch did nothing */
			if (!guest_failed)
				snprintf(guest_fail_line, sizeof(guest_fail_line), "%s", s);
			guest_failed = 1;
			if (sscanf(s, "CRASH-FAIL punch seq=%lu", &seq) == 1) {
				size_t i;

				for (i = nops; i-- > 0;)
					if (ops[i].seq == seq && ops[i].kind == 'z')
						ops[i].kind = 'x';
			}
			continue;
		}
		if ((s = strstr(line, "CRASH-START ")) && complete(s)) {
			long b, sp;
			unsigned long q;
			char e[16], a[16];

			if (sscanf(s, "CRASH-START blocks=%ld span=%ld seq0=%lu endian=%15s arch=%15s end",
				   &b, &sp, &q, e, a) != 5 ||
			    b <= 0 || b > (1L << 20) || sp <= 0)
				die("bad CRASH-START line in %s", path);
			if (blocks >= 0 &&
			    (b != blocks || sp != span || strcmp(e, endian) || strcmp(a, arch)))
				die("CRASH-START in %s differs from the earlier runs'", path);
			blocks = b;
			span = sp;
			snprintf(endian, sizeof(endian), "%s", e);
			snprintf(arch, sizeof(arch), "%s", a);
			seq0 = (uint32_t)q;
			if (nops && ops[nops - 1].seq >= seq0)
				die("CRASH_SEQ0 of %s is not above the earlier runs' numbers", path);
			started = 1;
			continue;
		}
		if (!started)
			continue;
		if ((s = strstr(line, "CRASH-PLAN seq=")) && complete(s)) {
			unsigned long seq = strtoul(s + 15, &p, 10);

			if (strncmp(p, " ops=", 5))
				die("bad CRASH-PLAN line in %s", path);
			p += 5;
			if (nops && seq <= ops[nops - 1].seq)
				die("CRASH-PLAN numbers go backwards in %s", path);
			while (*p == 'w' || *p == 'z') {
				char kind = *p;
				unsigned long b = strtoul(p + 1, &p, 10);

				if ((long)b >= blocks ||
				    (kind == 'z' && (b % span || (long)(b + span) > blocks)))
					die("CRASH-PLAN op outside the region in %s", path);
				add_op(kind, (uint32_t)seq++, (uint32_t)b, seq0);
				if (*p == ',')
					p++;
			}
			if (strcmp(p, " end"))
				die("bad CRASH-PLAN op list in %s", path);
			continue;
		}
		if ((s = strstr(line, "CRASH-ACK seq=")) && complete(s)) {
			unsigned long seq = strtoul(s + 14, &p, 10);
			size_t i;

			if (strcmp(p, " end"))
				die("bad CRASH-ACK line in %s", path);
			/* only this run's ops: an earlier run's unacknowledged ones stay so */
			for (i = nops; i-- > 0 && ops[i].seq0 == seq0;)
				if (ops[i].seq <= seq)
					ops[i].acked = 1;
			continue;
		}
	}
	fclose(f);
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 0x811c9dc5u;

	while (n--) {
		h ^= *p++;
		h *= 0x01000193u;
	}
	return h;
}

static uint32_t get32(const uint8_t *p, int be)
{
	return be ? (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]
		  : (uint32_t)p[3] << 24 | p[2] << 16 | p[1] << 8 | p[0];
}

static int all_zero(const uint8_t *p)
{
	size_t i;

	for (i = 0; i < BS; i++)
		if (p[i])
			return 0;
	return 1;
}

/* the op with sequence number seq, or NULL (ops are sorted by seq) */
static const struct op *find_op(uint32_t seq)
{
	size_t lo = 0, hi = nops;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ops[mid].seq == seq)
			return &ops[mid];
		if (ops[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int touches(const struct op *o, long b)
{
	return o->kind == 'w' ? (long)o->blk == b : b >= (long)o->blk && b < (long)o->blk + span;
}

/* why block b's content p is not allowed, or NULL */
static const char *check_block(long b, const uint8_t *p, const struct op *last, char *why,
			       size_t wn)
{
	uint32_t lseq = last ? last->seq : 0, seq, blk, seq0, sum;
	const struct op *o;
	char tag[17];
	int be;
	size_t i;

	if (all_zero(p)) {
		if (!last)
			return NULL;
		for (i = 0; i < nops; i++)
			if (ops[i].kind == 'z' && ops[i].seq >= lseq && touches(&ops[i], b))
				return NULL;
		snprintf(why, wn, "zeroes, but acknowledged %s seq=%u",
			 last->kind == 'w' ? "write" : "punch", lseq);
		return why;
	}
	if (memcmp(p, "LKVMCRSH", 8)) {
		snprintf(why, wn, "no record (magic %02x%02x%02x%02x...)%s", p[0], p[1], p[2], p[3],
			 last ? "" : ", never acknowledged");
		return why;
	}
	if (!memcmp(p + 8, "\x01\x02\x03\x04", 4))
		be = 1;
	else if (!memcmp(p + 8, "\x04\x03\x02\x01", 4))
		be = 0;
	else
		return snprintf(why, wn, "record with a bad byte-order mark"), why;
	if (be != !strcmp(endian, "big"))
		return snprintf(why, wn, "record in the wrong byte order (%s guest)", endian), why;
	sum = fnv1a(p, BS - 4);
	if (get32(p + BS - 4, be) != sum)
		return snprintf(why, wn, "record checksum wrong (torn or corrupted)"), why;
	seq = get32(p + 12, be);
	blk = get32(p + 16, be);
	seq0 = get32(p + 20, be);
	memcpy(tag, p + 24, 16);
	tag[16] = 0;
	if ((long)blk != b)
		return snprintf(why, wn, "record of block %u (seq=%u) found at block %ld", blk, seq,
				b), why;
	snprintf(why, wn, "%s %s", arch, endian);
	if (strcmp(tag, why))
		return snprintf(why, wn, "record tag \"%s\", expected \"%s %s\"", tag, arch,
				endian), why;
	o = find_op(seq);
	if (!o || o->kind != 'w' || (long)o->blk != b || o->seq0 != seq0) {
		snprintf(why, wn, "record seq=%u was never planned as a write to this block", seq);
		return why;
	}
	if (seq < lseq) {
		snprintf(why, wn, "stale record seq=%u, but acknowledged %s seq=%u", seq,
			 last->kind == 'w' ? "write" : "punch", lseq);
		return why;
	}
	return NULL;
}

/* the whole region of a raw image into memory */
static uint8_t *load(const char *path)
{
	uint8_t *img = malloc((size_t)blocks * BS);
	FILE *f;

	if (!img)
		die("%s", "out of memory");
	f = fopen(path, "rb");
	if (!f)
		die("cannot open image %s", path);
	if (fread(img, BS, (size_t)blocks, f) != (size_t)blocks)
		die("image %s is shorter than the region", path);
	fclose(f);
	return img;
}

int main(int argc, char **argv)
{
	const struct op **last;
	const char *prev_path = NULL;
	uint8_t *img, *prev = NULL, *touched;
	long b, bad = 0, acked_blocks = 0, acked_wblocks = 0, zero_blocks = 0, rec_blocks = 0;
	long newer = 0, same = 0;
	size_t i, acked = 0, run_acked = 0, run_acked_w = 0;
	uint32_t last_seq0;
	int a = 2;
	char why[256];

	if (argc > 3 && !strcmp(argv[2], "-p")) {
		prev_path = argv[3];
		a = 4;
	}
	if (argc <= a) {
		fprintf(stderr, "usage: %s IMAGE.raw [-p PREV.raw] LOG...\n", argv[0]);
		return 2;
	}
	for (; a < argc; a++)
		read_log(argv[a]);
	if (blocks < 0) {
		printf("FAIL no CRASH-START line in the logs (the guest never started writing)\n");
		return 1;
	}
	img = load(argv[1]);
	if (prev_path)
		prev = load(prev_path);
	last = calloc((size_t)blocks, sizeof(*last));
	touched = calloc((size_t)blocks, 1);
	if (!last || !touched)
		die("%s", "out of memory");

	/* the last acknowledged op on each block; the blocks the last run planned to touch */
	last_seq0 = nops ? ops[nops - 1].seq0 : 0;
	for (i = 0; i < nops; i++) {
		long end = (long)ops[i].blk + (ops[i].kind == 'w' ? 1 : span);

		if (ops[i].kind == 'x')
			continue;
		for (b = ops[i].blk; b < end && ops[i].seq0 == last_seq0; b++)
			touched[b] = 1;
		if (!ops[i].acked)
			continue;
		acked++;
		run_acked += ops[i].seq0 == last_seq0;
		run_acked_w += ops[i].seq0 == last_seq0 && ops[i].kind == 'w';
		for (b = ops[i].blk; b < end; b++)
			last[b] = &ops[i];
	}
	for (b = 0; b < blocks; b++) {
		const uint8_t *p = img + (size_t)b * BS;
		const char *w = check_block(b, p, last[b], why, sizeof(why));

		if (!w && prev && !touched[b]) {
			if (memcmp(p, prev + (size_t)b * BS, BS))
				w = "changed since the run before, though this run never touched it";
			else
				same++;
		}
		if (w) {
			if (bad < 8)
				printf("%sblock %ld: %s\n", bad ? "    " : "FAIL ", b, w);
			bad++;
			continue;
		}
		acked_blocks += last[b] != NULL;
		acked_wblocks += last[b] && last[b]->kind == 'w';
		if (all_zero(p)) {
			zero_blocks++;
		} else {
			rec_blocks++;
			/* holds something newer than what was acknowledged */
			newer += last[b] && get32(p + 12, p[8] == 1) > last[b]->seq;
		}
	}
	if (bad) {
		printf("    %ld of %ld blocks wrong\n", bad, blocks);
		if (guest_failed)
			printf("    and the guest reported: %s\n", guest_fail_line);
		return 1;
	}
	if (guest_failed) {
		printf("FAIL the guest reported: %s (the image itself checks out: %ld acknowledged"
		       " blocks)\n", guest_fail_line, acked_blocks);
		return 1;
	}
	printf("ok run_acked=%zu run_acked_writes=%zu chain_acked=%zu acked_blocks=%ld"
	       " acked_write_blocks=%ld records=%ld zeroes=%ld newer_than_acked=%ld",
	       run_acked, run_acked_w, acked, acked_blocks, acked_wblocks, rec_blocks, zero_blocks,
	       newer);
	if (prev)
		printf(" untouched_same=%ld", same);
	printf("\n");
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/* Shared pieces of the libFuzzer targets (fuzz_common.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "util.h"

uint8_t fz_u8(struct fz_in *in)
{
	uint8_t v = 0;

	fz_bytes(in, &v, 1);
	return v;
}

uint16_t fz_u16(struct fz_in *in)
{
	return fz_u8(in) | (uint16_t)fz_u8(in) << 8;
}

uint32_t fz_u32(struct fz_in *in)
{
	return fz_u16(in) | (uint32_t)fz_u16(in) << 16;
}

uint64_t fz_u64(struct fz_in *in)
{
	return fz_u32(in) | (uint64_t)fz_u32(in) << 32;
}

size_t fz_bytes(struct fz_in *in, void *dst, size_t len)
{
	size_t c = len < in->n ? len : in->n;

	memcpy(dst, in->p, c);
	in->p += c;
	in->n -= c;
	return c;
}

/* one directory and one fd for the life of the process, made once */
struct fz_proc {
	char dir[128];
	int devnull;
};

static struct fz_proc *fz_proc(void)
{
	static struct fz_proc proc;

	return &proc;
}

/*
 * The directory walks below read entries with getdents64 into a buffer on
 * the stack: opendir()'s 32 KiB buffer, malloc'ed and freed under ASan for
 * each directory of each input, cost the p9 target a sixth of its time.
 */
struct fz_dirent {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static bool fz_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* Removes everything below the directory dfd; true if it removed anything. */
static bool fz_empty_fd(int dfd, int depth)
{
	char buf[4096] __attribute__((aligned(8)));
	bool removed = false;
	long n, off;

	lseek(dfd, 0, SEEK_SET);
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n; off += ((struct fz_dirent *)(buf + off))->reclen) {
			const struct fz_dirent *d = (const struct fz_dirent *)(buf + off);
			struct stat st;
			int sub;

			if (fz_dot(d->name))
				continue;
			if (d->type == DT_DIR || (d->type == DT_UNKNOWN &&
						  !fstatat(dfd, d->name, &st, AT_SYMLINK_NOFOLLOW) &&
						  S_ISDIR(st.st_mode))) {
				sub = openat(dfd, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub >= 0 && depth < 64) {
					while (fz_empty_fd(sub, depth + 1))
						;
				}
				if (sub >= 0)
					close(sub);
				removed |= !unlinkat(dfd, d->name, AT_REMOVEDIR);
			} else {
				removed |= !unlinkat(dfd, d->name, 0);
			}
		}
	}
	return removed;
}

int fz_nr_fds(void)
{
	char buf[4096] __attribute__((aligned(8)));
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), nr = 0;
	long n, off;

	FZ_ASSERT(dfd >= 0);
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (off = 0; off < n; off += ((struct fz_dirent *)(buf + off))->reclen)
			nr += !fz_dot(((struct fz_dirent *)(buf + off))->name);
	close(dfd);
	return nr;
}

void fz_empty_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return;
	/* entries removed while reading may hide others: again until none goes */
	while (fz_empty_fd(dfd, 0))
		;
	close(dfd);
}

static void fz_cleanup(void)
{
	struct fz_proc *p = fz_proc();

	if (p->dir[0]) {
		fz_empty_dir(p->dir);
		rmdir(p->dir);
	}
}

const char *fz_scratch(void)
{
	struct fz_proc *p = fz_proc();
	const char *tmp = getenv("TMPDIR");

	if (p->dir[0])
		return p->dir;
	/* tmpfs by default: the qcow2 target syncs, the disk need not see it */
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
	snprintf(p->dir, sizeof(p->dir), "%s/lkvm-fuzz-XXXXXX", tmp);
	if (!mkdtemp(p->dir)) {
		perror("lkvm fuzz: scratch directory");
		abort();
	}
	atexit(fz_cleanup);
	return p->dir;
}

int fz_devnull(void)
{
	struct fz_proc *p = fz_proc();

	if (!p->devnull)
		p->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	return p->devnull;
}

int fz_fd_mark(void)
{
	int fd = dup(fz_devnull());

	FZ_ASSERT(fd >= 0);
	close(fd);
	return fd;
}

void fz_fd_check(int mark)
{
	/* an fd left open takes the lowest free number: the next one moves up */
	FZ_ASSERT(fz_fd_mark() <= mark);
}

int fz_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t w = 0;

	if (fd < 0)
		return -1;
	if (len)
		w = write(fd, buf, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

#define FZ_SECRET "not for the guest\n"

static void fz_path(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", fz_scratch(), rel);
}

const char *fz_share_reset(void)
{
	static char share[256];
	char p[256];

	fz_path(p, sizeof(p), "p9");
	mkdir(p, 0700);
	fz_path(p, sizeof(p), "p9/outside");
	if (mkdir(p, 0700) == 0) {
		fz_path(p, sizeof(p), "p9/outside/secret");
		fz_write_file(p, FZ_SECRET, strlen(FZ_SECRET));
	}
	fz_path(share, sizeof(share), "p9/share");
	mkdir(share, 0700);
	chmod(share, 0700);
	fz_empty_dir(share);
	fz_path(p, sizeof(p), "p9/share/f");
	fz_write_file(p, "hello, 9p\n", 10);
	fz_path(p, sizeof(p), "p9/share/d");
	mkdir(p, 0700);
	fz_path(p, sizeof(p), "p9/share/d/g");
	fz_write_file(p, "", 0);
	fz_path(p, sizeof(p), "p9/share/l");
	if (symlink("f", p)) {
		/* the share still works without it */
	}
	fz_path(p, sizeof(p), "p9/share/esc");
	if (symlink("../outside/secret", p)) {
		/* likewise */
	}
	return share;
}

static int fz_cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in dir (the first 16), sorted and joined; "" if it cannot be read. */
static void fz_list(const char *dir, char *out, size_t size)
{
	char buf[4096] __attribute__((aligned(8)));
	const char *names[16];
	unsigned int nr = 0, i;
	size_t len = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n, off;

	out[0] = 0;
	if (dfd < 0)
		return;
	/* one read: the directories listed here hold a handful of entries */
	n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
	close(dfd);
	for (off = 0; off < n; off += ((struct fz_dirent *)(buf + off))->reclen) {
		const struct fz_dirent *d = (const struct fz_dirent *)(buf + off);

		if (!fz_dot(d->name) && nr < ARRAY_SIZE(names))
			names[nr++] = d->name;
	}
	qsort(names, nr, sizeof(names[0]), fz_cmp_names);
	for (i = 0; i < nr && len < size; i++)
		len += snprintf(out + len, size - len, "%s/", names[i]);
}

void fz_share_check(void)
{
	char p[256], names[256], buf[64];
	struct stat st;
	ssize_t got;
	int fd;

	fz_path(p, sizeof(p), "p9");
	fz_list(p, names, sizeof(names));
	FZ_ASSERT(!strcmp(names, "outside/share/"));
	fz_path(p, sizeof(p), "p9/outside");
	fz_list(p, names, sizeof(names));
	FZ_ASSERT(!strcmp(names, "secret/"));
	fz_path(p, sizeof(p), "p9/outside/secret");
	FZ_ASSERT(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	FZ_ASSERT(fd >= 0);
	got = read(fd, buf, sizeof(buf));
	close(fd);
	FZ_ASSERT(got == (ssize_t)strlen(FZ_SECRET) && !memcmp(buf, FZ_SECRET, got));
}

void fz_touch(const void *p, size_t len)
{
	const volatile uint8_t *b = p;
	uint8_t x = 0;
	size_t i;

	for (i = 0; i < len; i++)
		x ^= b[i];
	(void)x;
}

static int fz_irq_line(struct vm *vm, uint32_t irq, int level)
{
	struct fz_vm *f = (struct fz_vm *)vm; /* vm is the first member */

	if (irq >= VM_MAX_IRQ_LINES)
		__builtin_trap(); /* irq_alloc never hands such a line out */
	if (level && !f->level[irq])
		f->edges[irq]++;
	f->level[irq] = level;
	return 0;
}

int fz_vcpu_endian(struct vcpu *vcpu)
{
	struct fz_vm *f = (struct fz_vm *)vcpu->vm;

	return f->vcpu_order;
}

bool fz_vm_init(struct fz_vm *f, uint64_t ram_size, enum virtio_transport t,
		enum virtio_endian_offer offer)
{
	struct lkvm_err e;

	memset(f, 0, sizeof(*f));
	f->cfg.transport = t;
	f->cfg.endian_offer = offer;
	f->cfg.no_ioeventfd = true;
	f->cfg.no_irqfd = true;
	f->arch = (struct arch_ops){
		.name = "fuzz",
		.virtio_mmio_base = 0x0a000000ULL,
		.virtio_mmio_slots = 32,
		.irq_line = fz_irq_line,
		.vcpu_endian = fz_vcpu_endian,
	};
	f->vm.arch = &f->arch;
	f->vm.cfg = &f->cfg;
	f->vm.kvm_fd = f->vm.vm_fd = f->vm.stop_efd = -1;
	f->vm.log = (struct logger){ .level = LOG_ERROR, .fd = fz_devnull() };
	f->vcpu.vm = &f->vm;
	f->vcpu.fd = -1;
	f->ram = calloc(1, ram_size);
	f->ram_size = ram_size;
	if (!f->ram)
		return false;
	if (guest_mem_add(&f->vm.mem, FZ_RAM_GPA, ram_size, f->ram, &e)) {
		free(f->ram);
		f->ram = NULL;
		return false;
	}
	return true;
}

void fz_vm_exit(struct fz_vm *f)
{
	vm_stop_devices(&f->vm);
	vm_destroy_devices(&f->vm);
	free(f->ram);
	f->ram = NULL;
}

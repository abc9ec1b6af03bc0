// SPDX-License-Identifier: GPL-2.0
/*
 * zio_fuzz: a randomized differential test of libzio, run under
 * LD_PRELOAD=libzio.so by libzio_test.
 *
 * Each thread owns a few slots; a slot is a buffer of the allocator under
 * test (malloc, calloc, realloc, posix_memalign...: large ones come from the
 * zio arena) and a shadow copy in anonymous memory that libzio never
 * manages. Random operations (allocations, frees, reallocs, copies between
 * buffers at any alignment, overlapping memmove, writes, copies through a
 * file with write/read, pwrite/pread and writev/readv, forks whose child
 * checks and scribbles on its snapshot) are applied to both, and the buffer
 * is compared with its shadow byte for byte. Every thread's sequence depends
 * only on the seed, so a failure is reproduced with the seed it prints.
 *
 *   zio_fuzz [-s SEED] [-n OPS] [-t THREADS] [-d SECONDS] [-m MAXSIZE] [-w TINY%]
 *            [-a USEC]
 *
 * -a: a SIGALRM every USEC microseconds, so that module copies see pending
 * signals and come back short (libzio completes them with memmove).
 * -w: the share of operations that touch only a few bytes (default 90%):
 * they keep the count of operations high under TCG and poke at single
 * shared or pending pages between the large operations.
 *
 * Exit status: 0 all equal, 1 a mismatch (details on stderr).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 10

struct slot {
	unsigned char *p;	/* under test */
	unsigned char *shadow;	/* the truth, outside any arena */
	size_t size;
};

struct worker {
	pthread_t thread;
	unsigned int id;
	uint64_t rng;
	unsigned long ops;
	struct slot slots[SLOTS];
	unsigned long forks;
	unsigned long copies, bytes;
	unsigned long ios;
	int file;	/* a tmpfs file of its own, for do_io() */
};

static uint64_t seed = 1;
static unsigned long max_ops = 200000;
static unsigned int nthreads = 4;
static double max_seconds = 20;
static size_t max_size = 2 << 20;
static unsigned int tiny_percent = 90;
static unsigned long alarm_us;
static volatile unsigned long alarms;
static struct timespec t0;
static volatile int failed;

/* Call through pointers, so that the compiler never inlines a copy. */
static void *(*volatile p_memcpy)(void *, const void *, size_t) = memcpy;
static void *(*volatile p_memmove)(void *, const void *, size_t) = memmove;
static void *(*volatile p_mempcpy)(void *, const void *, size_t) = mempcpy;
static void *(*p_memcpy_chk)(void *, const void *, size_t, size_t);
static void *(*p_zio_copy)(void *, const void *, size_t);

static uint64_t next(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static size_t below(uint64_t *s, size_t n)
{
	return n ? next(s) % n : 0;
}

static double elapsed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9;
}

/* A size: mostly small or around the thresholds, sometimes large. */
static size_t rand_size(uint64_t *s)
{
	switch (below(s, 8)) {
	case 0:
		return 1 + below(s, 256);
	case 1:
		return 1 + below(s, 8192);
	case 2:
		return 4096 * (1 + below(s, 32)) + below(s, 3) - 1;
	case 3:
		return 60000 + below(s, 10000);
	case 4:
	case 5:
		return 65536 + below(s, 256 << 10);
	case 6:
		return (4096 << below(s, 9)) + below(s, 2) * below(s, 4096);
	default:
		return 1 + below(s, max_size);
	}
}

static void fill(uint64_t *s, unsigned char *a, unsigned char *b, size_t n)
{
	uint64_t v = next(s);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		v = v * 6364136223846793005ULL + 1442695040888963407ULL;
		*(uint64_t *)(a + i) = v;
		*(uint64_t *)(b + i) = v;
	}
	for (; i < n; i++)
		a[i] = b[i] = (unsigned char)(v >> (i % 8 * 8));
}

static void fail(struct worker *w, const char *what, int slot, size_t off, size_t len)
{
	fprintf(stderr, "zio_fuzz: MISMATCH seed %" PRIu64 " thread %u op %lu: %s slot %d offset %zu len %zu\n",
		seed, w->id, w->ops, what, slot, off, len);
	failed = 1;
}

static bool check(struct worker *w, int i, size_t off, size_t len, const char *what)
{
	struct slot *sl = &w->slots[i];
	size_t j;

	if (!sl->p || off >= sl->size)
		return true;
	if (len > sl->size - off)
		len = sl->size - off;
	if (!memcmp(sl->p + off, sl->shadow + off, len))
		return true;
	for (j = off; j < off + len && sl->p[j] == sl->shadow[j]; j++)
		;
	fail(w, what, i, j, len);
	return false;
}

static void release(struct slot *sl)
{
	free(sl->p);
	sl->p = NULL;
	madvise(sl->shadow, sl->size, MADV_DONTNEED);
	sl->size = 0;
}

static int do_alloc(struct worker *w, int i)
{
	struct slot *sl = &w->slots[i];
	uint64_t *s = &w->rng;
	size_t size = rand_size(s);
	void *p = NULL;
	bool zero = false;

	if (sl->p) {
		if (!check(w, i, 0, sl->size, "before free"))
			return -1;
		release(sl);
	}
	switch (below(s, 8)) {
	case 0: {
		size_t n = 1 + below(s, 3), each = size / n + 1;

		p = calloc(n, each);
		size = n * each;
		zero = true;
		break;
	}
	case 1:
		if (posix_memalign(&p, (size_t)8 << below(s, 12), size))
			p = NULL;
		break;
	case 2:
		p = aligned_alloc((size_t)16 << below(s, 10), size);
		break;
	case 3:
		p = memalign((size_t)16 << below(s, 14), size);
		break;
	case 4:
		p = valloc(size);
		break;
	default:
		p = malloc(size);
		break;
	}
	if (!p) {
		fprintf(stderr, "zio_fuzz: allocation of %zu bytes failed\n", size);
		failed = 1;
		return -1;
	}
	if (zero) {
		for (size_t k = 0; k < size; k++) {
			if (((unsigned char *)p)[k]) {
				fail(w, "calloc not zero", i, k, size);
				return -1;
			}
		}
	}
	if (malloc_usable_size(p) < size) {
		fail(w, "usable size too small", i, malloc_usable_size(p), size);
		return -1;
	}
	sl->p = p;
	sl->size = size;
	fill(s, sl->p, sl->shadow, size);
	return 0;
}

static int do_realloc(struct worker *w, int i)
{
	struct slot *sl = &w->slots[i];
	size_t size = rand_size(&w->rng), keep;
	void *p;

	if (!sl->p)
		return do_alloc(w, i);
	if (below(&w->rng, 2))
		size = sl->size + below(&w->rng, sl->size + 1);
	if (size > max_size)
		size = max_size;
	p = below(&w->rng, 4) ? realloc(sl->p, size) : reallocarray(sl->p, 1, size);
	if (!p) {
		fprintf(stderr, "zio_fuzz: realloc to %zu bytes failed\n", size);
		failed = 1;
		return -1;
	}
	sl->p = p;
	keep = size < sl->size ? size : sl->size;
	if (((size + 4095) & ~4095UL) < sl->size)
		madvise(sl->shadow + ((size + 4095) & ~4095UL),
			sl->size - ((size + 4095) & ~4095UL), MADV_DONTNEED);
	sl->size = size;
	if (!check(w, i, 0, keep, "realloc kept"))
		return -1;
	if (size > keep)
		fill(&w->rng, sl->p + keep, sl->shadow + keep, size - keep);
	return 0;
}

/* Copy between two slots, or within one (overlapping, memmove). */
static int do_copy(struct worker *w)
{
	uint64_t *s = &w->rng;
	int a = below(s, SLOTS), b = below(s, SLOTS);
	struct slot *d = &w->slots[a], *src = &w->slots[b];
	size_t doff, soff, len, max;
	unsigned int how = below(s, 6);

	if (!d->p || !src->p)
		return 0;
	/* Often the same offset in the page (shares), sometimes not. */
	doff = below(s, d->size);
	soff = below(s, 2) ? (doff % 4096) + 4096 * below(s, src->size / 4096 + 1) :
			     below(s, src->size);
	if (soff >= src->size)
		soff = below(s, src->size);
	if (below(s, 4) == 0) {
		doff &= ~4095UL;
		soff &= ~4095UL;
	}
	max = d->size - doff < src->size - soff ? d->size - doff : src->size - soff;
	/* Mostly a few pages (cheap under TCG), sometimes all there is. */
	switch (below(s, 10)) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		len = 1 + below(s, 5 * 4096);
		break;
	case 6: case 7:
		len = below(s, 300000);
		break;
	case 8:
		len = below(s, max + 1);
		break;
	default:
		len = max;
		break;
	}
	if (len > max)
		len = max;
	if (a == b) {
		/*
		 * memmove() within one buffer is libc's; zio_copy() still
		 * sends the overlap to the module (its backward path).
		 */
		if (how == 3 && p_zio_copy)
			p_zio_copy(d->p + doff, d->p + soff, len);
		else
			p_memmove(d->p + doff, d->p + soff, len);
		memmove(d->shadow + doff, d->shadow + soff, len);
	} else {
		switch (how) {
		case 0:
			p_memmove(d->p + doff, src->p + soff, len);
			break;
		case 1:
			if (p_mempcpy(d->p + doff, src->p + soff, len) != d->p + doff + len)
				fail(w, "mempcpy return", a, doff, len);
			break;
		case 2:
			if (p_memcpy_chk)
				p_memcpy_chk(d->p + doff, src->p + soff, len, d->size - doff);
			else
				p_memcpy(d->p + doff, src->p + soff, len);
			break;
		case 3:
			if (p_zio_copy)
				p_zio_copy(d->p + doff, src->p + soff, len);
			else
				p_memcpy(d->p + doff, src->p + soff, len);
			break;
		default:
			p_memcpy(d->p + doff, src->p + soff, len);
			break;
		}
		memcpy(d->shadow + doff, src->shadow + soff, len);
	}
	w->copies++;
	w->bytes += len;
	/* Check the copy, and the neighbours of its edges. */
	if (!check(w, a, doff >= 4096 ? doff - 4096 : 0, len + 8192, "after copy"))
		return -1;
	if (a == b || len <= 65536) {
		if (!check(w, b, soff >= 4096 ? soff - 4096 : 0, len + 8192, "copy source"))
			return -1;
	} else if (!check(w, b, soff, 4096, "copy source head") ||
		   !check(w, b, soff + len - 4096, 4096, "copy source tail")) {
		return -1;
	}
	return 0;
}

static int do_write(struct worker *w)
{
	uint64_t *s = &w->rng;
	int i = below(s, SLOTS);
	struct slot *sl = &w->slots[i];
	size_t off, len;

	if (!sl->p)
		return 0;
	off = below(s, sl->size);
	len = 1 + below(s, below(s, 8) ? 64 + below(s, 8192) : sl->size - off);
	if (len > sl->size - off)
		len = sl->size - off;
	if (below(s, 2)) {
		unsigned char c = next(s);

		for (size_t k = 0; k < len; k += 1 + below(s, 4096)) {
			sl->p[off + k] = c;
			sl->shadow[off + k] = c;
		}
	} else {
		fill(s, sl->p + off, sl->shadow + off, len);
	}
	return check(w, i, off, len, "after write") ? 0 : -1;
}

/* Write all of [p, p + n) at @off (-1: the file position), or fail. */
static bool io_all(int fd, unsigned char *p, size_t n, off_t off, bool out, int how)
{
	unsigned char head[100];

	while (n) {
		ssize_t r;

		if (how == 0) {
			r = out ? write(fd, p, n) : read(fd, p, n);
		} else if (how == 1) {
			r = out ? pwrite(fd, p, n, off) : pread(fd, p, n, off);
		} else {
			/* A small first part that lies outside the buffer. */
			size_t h = n < sizeof(head) ? n : sizeof(head);
			struct iovec iov[2] = { { head, h }, { p + h, n - h } };

			if (out)
				memcpy(head, p, h);
			r = out ? pwritev(fd, iov, 2, off) : preadv(fd, iov, 2, off);
			if (r > 0 && !out)
				memcpy(p, head, (size_t)r < h ? (size_t)r : h);
			if (r > 0 && (size_t)r < h)
				return false;
		}
		if (r <= 0)
			return false;
		p += r;
		n -= r;
		off += r;
	}
	return true;
}

/*
 * A copy through the thread's file: libzio sends arena buffers to the
 * module's ZIO_IOC_WRITE and ZIO_IOC_READ, the rest to libc.
 */
static int do_io(struct worker *w)
{
	uint64_t *s = &w->rng;
	int a = below(s, SLOTS), b = below(s, SLOTS), how = below(s, 3);
	struct slot *d = &w->slots[a], *src = &w->slots[b];
	size_t doff, soff, len, max;

	if (!d->p || !src->p || w->file < 0)
		return 0;
	doff = below(s, d->size);
	soff = below(s, 2) ? (doff % 4096) + 4096 * below(s, src->size / 4096 + 1) :
			     below(s, src->size);
	if (soff >= src->size)
		soff = below(s, src->size);
	max = d->size - doff < src->size - soff ? d->size - doff : src->size - soff;
	len = below(s, 2) ? below(s, max + 1) : max;
	if (!len)
		return 0;
	if (how == 0 && lseek(w->file, 0, SEEK_SET)) {
		fail(w, "lseek", b, soff, len);
		return -1;
	}
	if (!io_all(w->file, src->p + soff, len, 0, true, how)) {
		fail(w, "write to the file", b, soff, len);
		return -1;
	}
	if (how == 0 && lseek(w->file, 0, SEEK_SET)) {
		fail(w, "lseek", a, doff, len);
		return -1;
	}
	if (!io_all(w->file, d->p + doff, len, 0, false, how)) {
		fail(w, "read from the file", a, doff, len);
		return -1;
	}
	memmove(d->shadow + doff, src->shadow + soff, len);
	w->ios++;
	if (!check(w, a, doff >= 4096 ? doff - 4096 : 0, len + 8192, "after I/O"))
		return -1;
	return check(w, b, soff, len, "I/O source") ? 0 : -1;
}

/* fork: the child sees its snapshot and scribbles; the parent must not see it. */
static int do_fork(struct worker *w)
{
	int status;
	pid_t pid;

	w->forks++;
	pid = fork();
	if (pid < 0)
		return 0;
	if (!pid) {
		for (int i = 0; i < SLOTS; i++)
			if (!check(w, i, 0, w->slots[i].size, "child snapshot"))
				_exit(1);
		for (int k = 0; k < 20; k++) {
			if (do_write(w) || do_copy(w))
				_exit(1);
		}
		for (int i = 0; i < SLOTS; i++) {
			struct slot *sl = &w->slots[i];

			if (sl->p)
				memset(sl->p, 0xa5, sl->size);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "zio_fuzz: seed %" PRIu64 " thread %u op %lu: fork child failed (status %#x)\n",
			seed, w->id, w->ops, status);
		failed = 1;
		return -1;
	}
	for (int i = 0; i < SLOTS; i++)
		if (!check(w, i, 0, w->slots[i].size, "parent after fork"))
			return -1;
	return 0;
}

/*
 * A few bytes read, written or copied at a random place of a buffer: cheap,
 * and each may fault in a shared or pending page, or break a share.
 */
static int do_tiny(struct worker *w)
{
	uint64_t *s = &w->rng;
	int i = below(s, SLOTS), j;
	struct slot *sl = &w->slots[i], *src;
	size_t off, soff, len = 1 + below(s, 16);

	if (!sl->p)
		return 0;
	off = below(s, sl->size);
	if (len > sl->size - off)
		len = sl->size - off;
	switch (below(s, 4)) {
	case 0:
		fill(s, sl->p + off, sl->shadow + off, len);
		break;
	case 1:
		j = below(s, SLOTS);
		src = &w->slots[j];
		if (!src->p)
			return 0;
		len = 1 + below(s, 256);
		soff = below(s, src->size);
		if (len > src->size - soff)
			len = src->size - soff;
		if (len > sl->size - off)
			len = sl->size - off;
		p_memmove(sl->p + off, src->p + soff, len);
		memmove(sl->shadow + off, src->shadow + soff, len);
		break;
	default:
		break;
	}
	return check(w, i, off, len, "tiny") ? 0 : -1;
}

/* Small allocations and copies: the next allocator and libc, through libzio. */
static int do_small(struct worker *w)
{
	uint64_t *s = &w->rng;
	size_t n = 1 + below(s, 2048);
	unsigned char *p = malloc(n), *q = below(s, 2) ? calloc(1, n) : malloc(n);

	if (!p || !q) {
		fprintf(stderr, "zio_fuzz: small allocation failed\n");
		failed = 1;
		return -1;
	}
	memset(p, (int)n, n);
	p_memcpy(q, p, n);
	p = realloc(p, n + below(s, 4096));
	if (!p || memcmp(p, q, n)) {
		fail(w, "small copy or realloc", -1, 0, n);
		return -1;
	}
	free(p);
	free(q);
	return 0;
}

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	uint64_t *s = &w->rng;
	int ret = 0;

	for (w->ops = 0; w->ops < max_ops && !failed && !ret; w->ops++) {
		unsigned int op = below(s, 100);

		if (op < tiny_percent) {
			ret = do_tiny(w);
			continue;
		}
		op = below(s, 100);

		if ((w->ops & 63) == 0 && elapsed() > max_seconds)
			break;
		if (op < 5)
			ret = do_alloc(w, below(s, SLOTS));
		else if (op < 9)
			ret = do_realloc(w, below(s, SLOTS));
		else if (op < 55)
			ret = do_copy(w);
		else if (op < 80)
			ret = do_write(w);
		else if (op < 81 && w->id == 0 && below(s, 16) == 0)
			ret = do_fork(w);
		else if (op < 83)
			ret = check(w, below(s, SLOTS), 0, SIZE_MAX, "check") ? 0 : -1;
		else if (op < 88)
			ret = do_io(w);
		else
			ret = do_small(w);
	}
	for (int i = 0; i < SLOTS && !failed; i++)
		if (check(w, i, 0, SIZE_MAX, "final"))
			release(&w->slots[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker *workers;
	unsigned long ops = 0, forks = 0, copies = 0, ios = 0;
	double bytes = 0;
	int opt;

	seed = time(NULL);
	while ((opt = getopt(argc, argv, "s:n:t:d:m:w:a:")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			max_ops = strtoul(optarg, NULL, 0);
			break;
		case 't':
			nthreads = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			max_seconds = strtod(optarg, NULL);
			break;
		case 'm':
			max_size = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			tiny_percent = strtoul(optarg, NULL, 0);
			break;
		case 'a':
			alarm_us = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: zio_fuzz [-s SEED] [-n OPS] [-t THREADS] [-d SECONDS] [-m MAXSIZE] [-w TINY%%] [-a USEC]\n");
			return 2;
		}
	}
	if (!nthreads || max_size < 4096)
		return 2;
	p_memcpy_chk = (void *)dlsym(RTLD_DEFAULT, "__memcpy_chk");
	p_zio_copy = (void *)dlsym(RTLD_DEFAULT, "zio_copy");
	printf("# zio_fuzz: seed %" PRIu64 ", %u threads, up to %lu ops each, %.0f s\n",
	       seed, nthreads, max_ops, max_seconds);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (alarm_us) {
		struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
		struct itimerval it = { { 0, alarm_us }, { 0, alarm_us } };

		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
	}

	workers = mmap(NULL, nthreads * sizeof(*workers), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (workers == MAP_FAILED)
		return 2;
	for (unsigned int t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];

		w->id = t;
		w->rng = seed * 0x9e3779b97f4a7c15ULL + t + 1;
		w->file = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		for (int i = 0; i < SLOTS; i++) {
			/* Room for a slot at its largest, plus the calloc factor. */
			w->slots[i].shadow = mmap(NULL, max_size + 65536, PROT_READ | PROT_WRITE,
						  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (w->slots[i].shadow == MAP_FAILED)
				return 2;
		}
		if (pthread_create(&w->thread, NULL, run, w))
			return 2;
	}
	for (unsigned int t = 0; t < nthreads; t++) {
		while (pthread_join(workers[t].thread, NULL) == EINTR)
			;
		ops += workers[t].ops;
		forks += workers[t].forks;
		copies += workers[t].copies;
		bytes += workers[t].bytes;
		ios += workers[t].ios;
	}
	if (alarm_us) {
		struct itimerval it = { 0 };

		setitimer(ITIMER_REAL, &it, NULL);
	}
	printf("# zio_fuzz: seed %" PRIu64 ": %lu operations (%lu copies, %.0f MiB, %lu through a file, %lu forks, %lu signals) in %.1f s: %s\n",
	       seed, ops, copies, bytes / (1 << 20), ios, forks, alarms, elapsed(),
	       failed ? "MISMATCH" : "all equal");
	return failed ? 1 : 0;
}

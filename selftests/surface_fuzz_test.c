// SPDX-License-Identifier: GPL-2.0
/*
 * A fuzzer for the mmap/ioctl/fault surface of /dev/zio: random sequences
 * of mmap, munmap, mremap, mprotect, madvise, fork, ZIO_IOC_COPY,
 * ZIO_IOC_DISCARD, ZIO_IOC_WRITE and ZIO_IOC_READ (to a pipe and to a
 * tmpfs file; with recv() flags from AF_UNIX, UDP and TCP sockets; to a
 * TCP peer that receives with TCP_ZEROCOPY_RECEIVE), O_DIRECT I/O in
 * flight while the range is zapped, vmsplice into a pipe read after a
 * write, loads and stores, on several threads at once, with every byte
 * checked against a shadow model.
 *
 * The model is exact because the threads never share a page: each owns a
 * partition of the file offsets of one open, maps only offsets of its own
 * partition (at most FZ_MAPS mappings, aliases allowed), and keeps in
 * anonymous memory what every offset of its partition must read as. The
 * rules the model follows are the documented ones:
 *
 * - an offset reads as zeros until written; munmap (or an mremap that
 *   shrinks) discards the offsets no other mapping of the process covers;
 * - ZIO_IOC_COPY is memmove() of the bytes, ZIO_IOC_DISCARD zeroes whole
 *   pages, ZIO_IOC_WRITE/READ are pwrite()/pread() of the bytes;
 * - an operation on a range that is not all readable (src, WRITE) or
 *   writable (dst, DISCARD, READ) fails with EFAULT and changes nothing;
 *   bad flags EINVAL, a wrapping range EOVERFLOW, a misaligned discard
 *   EINVAL, MAP_PRIVATE EINVAL, growing with mremap EFAULT;
 * - a fork child sees a snapshot; what either side writes afterwards the
 *   other never sees;
 * - recv() flags do what recv() does (a twin socket shows it); a TCP peer
 *   gets the bytes at the send, and what it mapped never changes; O_DIRECT
 *   moves the bytes at the submit; a pipe's page is, whole, the bytes at
 *   the vmsplice or those at the read (the one rule that leaves a choice).
 *
 * Each thread draws its operations from its own generator, seeded from
 * ZIO_SEED and its number, so a thread's sequence does not depend on the
 * others': ZIO_SEED reproduces a run, and ZIO_FUZZ_OPS=N (operations per
 * thread) instead of the time budget ZIO_FUZZ_SECONDS (default 3) makes
 * it end at the same point. ZIO_FUZZ_THREADS sets the number of threads;
 * ZIO_FUZZ_SKIP=name,name leaves operations out (to see what the others
 * find). A mismatch fails with the seed, the thread, the byte, and the
 * thread's last operations. The wrong_*_model_is_caught tests are the
 * negative controls: a model wrong on purpose must be caught.
 */
#include <arpa/inet.h>
#include <linux/aio_abi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "zio_test.h"

#define FZ_PART		64	/* file pages per thread */
#define FZ_MAPS		4	/* mappings per thread */
#define FZ_MAP_PAGES	16	/* pages per mapping, at most */
#define FZ_MAX_VMAS	16	/* zio keeps slots past 16 covering VMAs */
#define FZ_TRACE	64	/* operations kept for the report */
#define FZ_MAX_THREADS	8
#define FZ_PIPE_MAX	(16 * 4096)	/* a pipe's default capacity */
#define FZ_SOCK_KINDS	4	/* AF_UNIX stream and datagram, UDP, TCP */
#define FZ_WAIT_MS	10000	/* for bytes on their way through loopback */
#define FZ_DIO_PAGES	16	/* the O_DIRECT file */

enum fz_op {
	OP_MMAP, OP_MUNMAP, OP_MREMAP_MOVE, OP_MREMAP_SHRINK, OP_MREMAP_GROW,
	OP_MPROTECT, OP_MADVISE, OP_LOAD, OP_STORE, OP_COPY, OP_DISCARD,
	OP_WRITE_FILE, OP_READ_FILE, OP_WRITE_PIPE, OP_READ_PIPE, OP_FORK,
	OP_BAD, OP_CHECK, OP_LOCK_SYNC, OP_VMSPLICE, OP_VM_READV, OP_RECV,
	OP_TCP_SEND, OP_DIRECT, OP_VMSPLICE_WRITE, OP_NR
};

static const char * const fz_op_name[OP_NR] = {
	"mmap", "munmap", "mremap-move", "mremap-shrink", "mremap-grow",
	"mprotect", "madvise", "load", "store", "copy", "discard",
	"write-file", "read-file", "write-pipe", "read-pipe", "fork",
	"bad-input", "check", "mlock-msync", "vmsplice", "vm-readv",
	"recv-flags", "tcp-zc-send", "direct-aio", "vmsplice-write",
};

/* How often each operation is drawn, out of the sum. */
static const unsigned int fz_op_weight[OP_NR] = {
	[OP_MMAP] = 6, [OP_MUNMAP] = 3, [OP_MREMAP_MOVE] = 2,
	[OP_MREMAP_SHRINK] = 1, [OP_MREMAP_GROW] = 1, [OP_MPROTECT] = 4,
	[OP_MADVISE] = 2, [OP_LOAD] = 8, [OP_STORE] = 10, [OP_COPY] = 16,
	[OP_DISCARD] = 3, [OP_WRITE_FILE] = 3, [OP_READ_FILE] = 3,
	[OP_WRITE_PIPE] = 2, [OP_READ_PIPE] = 2, [OP_FORK] = 1,
	[OP_BAD] = 2, [OP_CHECK] = 2, [OP_LOCK_SYNC] = 2, [OP_VMSPLICE] = 3,
	[OP_VM_READV] = 3, [OP_RECV] = 4, [OP_TCP_SEND] = 4, [OP_DIRECT] = 3,
	[OP_VMSPLICE_WRITE] = 3,
};

#define PROT_RW		(PROT_READ | PROT_WRITE)

/* One mapping of the thread's partition. */
struct fz_map {
	char *addr;			/* NULL: unused */
	size_t pages;
	size_t off;			/* first page, in the partition */
	int prot[FZ_MAP_PAGES];		/* of each page */
	bool cut[FZ_MAP_PAGES];		/* a VMA starts at page i (i > 0) */
};

struct fz_trace {
	enum fz_op op;
	long a, b, c, d;		/* operation-specific */
	long ret;
};

/* What a fork child saw, in memory it shares with the parent. */
struct fz_child_report {
	int map;
	size_t byte;			/* in the mapping */
	unsigned char seen, want;
};

struct fz_thread {
	pthread_t thread;
	int id, zfd, memfd, pipe[2];
	int vpipe[2];			/* holds vmspliced pages for a while */
	size_t vpipe_bytes;
	char *foreign;			/* a page of another open of /dev/zio */
	size_t ps;
	uint64_t rng;
	size_t base;			/* first file page of the partition */
	unsigned char *shadow;		/* FZ_PART pages */
	unsigned char *scratch;		/* FZ_MAP_PAGES pages */
	struct fz_child_report *report;	/* shared with fork children */
	struct fz_map maps[FZ_MAPS];
	/*
	 * OP_RECV: a connection of each kind for ZIO_IOC_READ, and its twin,
	 * fed the same bytes, for recv() into plain memory: [kind][0 for
	 * zio's, 1 for the twin][0 for the receiver, 1 for the sender].
	 */
	int rsock[FZ_SOCK_KINDS][2][2];
	unsigned char *payload;		/* FZ_MAP_PAGES + 2 pages */
	unsigned char *twin;		/* FZ_MAP_PAGES pages */
	unsigned char *rest[2];		/* FZ_MAP_PAGES + 2 pages each */
	/*
	 * OP_TCP_SEND: a TCP connection, [0] the receiver, [1] the sender;
	 * the receiver's mmap() of its socket, where TCP_ZEROCOPY_RECEIVE
	 * maps pages, and what its first zc_held bytes must read (the bytes
	 * at the send) until the operation zc_release.
	 */
	int zc_sock[2];
	char *zc_area;			/* FZ_MAP_PAGES pages, or NULL */
	size_t zc_held;
	long zc_release;
	unsigned char *zc_want;		/* FZ_MAP_PAGES pages */
	size_t zc_from[FZ_MAP_PAGES];	/* each page's partition byte */
	unsigned char *sent;		/* FZ_MAP_PAGES pages: the model at the send */
	/*
	 * OP_DIRECT: a file of FZ_DIO_PAGES pages of its own on ext4, open
	 * with O_DIRECT (-1 without /mnt/ext4), an AIO context, and what the
	 * file holds.
	 */
	int dfd;
	aio_context_t aio;
	unsigned char *dmodel;		/* FZ_DIO_PAGES pages */
	/* OP_VMSPLICE_WRITE: a pipe, and the bytes at the vmsplice */
	int spipe[2];
	unsigned char *vs_old;		/* FZ_MAP_PAGES pages */
	/* out */
	long zc_sends, zc_bytes, zc_mapped;	/* bytes sent, bytes mapped */
	long dio_reads, dio_writes, dio_in_flight;
	long vs_pages[3];		/* the pipe read: unchanged, old, new */
	long ops, count[OP_NR];
	struct fz_trace trace[FZ_TRACE];
	bool failed;
	char why[512];
};

/* Which part of the model is wrong on purpose, for the negative controls. */
enum fz_sabotage {
	FZ_SAB_NONE,
	FZ_SAB_DISCARD,		/* the model forgets discards */
	FZ_SAB_RECV,		/* the twin socket gets a byte more */
	FZ_SAB_TCP,		/* the peer gets the bytes at the receive */
	FZ_SAB_DIRECT,		/* an O_DIRECT read leaves the buffer as it was */
	FZ_SAB_VMSPLICE,	/* a pipe reads every write made after vmsplice */
};

static struct {
	int seconds;
	long max_ops;		/* 0: until the time is up */
	atomic_bool stop;
	enum fz_sabotage sabotage;	/* a wrong model: must fail */
	unsigned int weight[OP_NR];	/* fz_op_weight, less ZIO_FUZZ_SKIP */
} fz;

static unsigned int fz_below(struct fz_thread *t, unsigned int n)
{
	return n ? zio_rand(&t->rng) % n : 0;
}

static void fz_random_bytes(struct fz_thread *t, unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = zio_rand(&t->rng);

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static struct fz_trace *fz_note(struct fz_thread *t, enum fz_op op, long a,
				long b, long c, long d)
{
	struct fz_trace *tr = &t->trace[t->ops % FZ_TRACE];

	*tr = (struct fz_trace){ .op = op, .a = a, .b = b, .c = c, .d = d };
	t->ops++;
	t->count[op]++;
	return tr;
}

static void __attribute__((format(printf, 2, 3)))
fz_fail(struct fz_thread *t, const char *fmt, ...)
{
	va_list ap;

	if (t->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
	t->failed = true;
}

/* Check that @ret is @want (a result or -errno). */
static bool fz_expect(struct fz_thread *t, const char *what, long ret, long want)
{
	if (ret == want)
		return true;
	fz_fail(t, "%s returned %ld, expected %ld", what, ret, want);
	return false;
}

static long fz_errno(long ret)
{
	return ret < 0 ? -errno : ret;
}

/* Whether pages [first, first + n) of @m all have @prot among theirs. */
static bool fz_prot_all(const struct fz_map *m, size_t first, size_t n, int prot)
{
	for (size_t i = first; i < first + n; i++)
		if ((m->prot[i] & prot) != prot)
			return false;
	return true;
}

static int fz_vmas(const struct fz_map *m)
{
	int n = 1;

	for (size_t i = 1; i < m->pages; i++)
		n += m->cut[i];
	return n;
}

static int fz_total_vmas(const struct fz_thread *t)
{
	int n = 0;

	for (int i = 0; i < FZ_MAPS; i++)
		if (t->maps[i].addr)
			n += fz_vmas(&t->maps[i]);
	return n;
}

static struct fz_map *fz_pick_map(struct fz_thread *t)
{
	int n = 0, pick;

	for (int i = 0; i < FZ_MAPS; i++)
		n += !!t->maps[i].addr;
	if (!n)
		return NULL;
	pick = fz_below(t, n);
	for (int i = 0; i < FZ_MAPS; i++)
		if (t->maps[i].addr && !pick--)
			return &t->maps[i];
	return NULL;
}

static struct fz_map *fz_free_map(struct fz_thread *t)
{
	for (int i = 0; i < FZ_MAPS; i++)
		if (!t->maps[i].addr)
			return &t->maps[i];
	return NULL;
}

static int fz_map_index(struct fz_thread *t, const struct fz_map *m)
{
	return (int)(m - t->maps);
}

/* Whether any mapping covers partition page @off. */
static bool fz_covered(const struct fz_thread *t, size_t off)
{
	for (int i = 0; i < FZ_MAPS; i++) {
		const struct fz_map *m = &t->maps[i];

		if (m->addr && off >= m->off && off < m->off + m->pages)
			return true;
	}
	return false;
}

/* Partition pages [off, off + n) lost their mapping: zio discards them. */
static void fz_uncover(struct fz_thread *t, size_t off, size_t n)
{
	for (size_t p = off; p < off + n; p++)
		if (!fz_covered(t, p))
			memset(t->shadow + p * t->ps, 0, t->ps);
}

/* Compare @len bytes of @m at byte @at with the model. */
static bool fz_verify(struct fz_thread *t, const struct fz_map *m, size_t at,
		      size_t len, const char *when)
{
	const unsigned char *seen = (const unsigned char *)m->addr + at;
	const unsigned char *want = t->shadow + m->off * t->ps + at;
	size_t i;

	if (!memcmp(seen, want, len))
		return true;
	for (i = 0; seen[i] == want[i]; i++)
		;
	fz_fail(t, "%s: map %d (partition page %zu+%zu) byte %zu of page %zu: 0x%02x, expected 0x%02x",
		when, fz_map_index(t, m), m->off, m->pages, (at + i) % t->ps,
		m->off + (at + i) / t->ps, seen[i], want[i]);
	return false;
}

/* Every readable page of every mapping against the model. */
static bool fz_verify_all(struct fz_thread *t, const char *when)
{
	for (int i = 0; i < FZ_MAPS; i++) {
		const struct fz_map *m = &t->maps[i];

		if (!m->addr)
			continue;
		for (size_t p = 0; p < m->pages; p++)
			if ((m->prot[p] & PROT_READ) &&
			    !fz_verify(t, m, p * t->ps, t->ps, when))
				return false;
	}
	return true;
}

/* A random byte range inside @m: pages [*first, *first + *n) hold it. */
static void fz_pick_range(struct fz_thread *t, const struct fz_map *m,
			  size_t max_len, size_t *at, size_t *len)
{
	size_t size = m->pages * t->ps;

	switch (fz_below(t, 3)) {
	case 0:		/* whole pages */
		*at = fz_below(t, m->pages) * t->ps;
		*len = (1 + fz_below(t, (size - *at) / t->ps)) * t->ps;
		break;
	case 1:		/* small, anywhere */
		*at = fz_below(t, size);
		*len = 1 + fz_below(t, size - *at < 64 ? size - *at : 64);
		break;
	default:	/* anything */
		*at = fz_below(t, size);
		*len = 1 + fz_below(t, size - *at);
		break;
	}
	if (*len > max_len)
		*len = max_len;
}

static size_t fz_first_page(struct fz_thread *t, size_t at)
{
	return at / t->ps;
}

static size_t fz_nr_pages(struct fz_thread *t, size_t at, size_t len)
{
	return (at + len - 1) / t->ps - at / t->ps + 1;
}

static void fz_op_mmap(struct fz_thread *t)
{
	struct fz_map *m = fz_free_map(t);
	size_t pages = 1 + fz_below(t, FZ_MAP_PAGES), off;
	struct fz_trace *tr;
	void *p;

	if (!m)
		return;
	off = fz_below(t, FZ_PART - pages + 1);
	tr = fz_note(t, OP_MMAP, fz_map_index(t, m), off, pages, 0);
	p = zio_map(t->zfd, pages * t->ps, (t->base + off) * t->ps);
	if (p == MAP_FAILED) {
		tr->ret = -errno;
		fz_fail(t, "mmap of %zu pages at %zu failed: %s", pages, off,
			strerror(errno));
		return;
	}
	*m = (struct fz_map){ .addr = p, .pages = pages, .off = off };
	for (size_t i = 0; i < pages; i++)
		m->prot[i] = PROT_RW;
	/* Nothing else covers an offset that is not all zeros. */
	fz_verify(t, m, 0, pages * t->ps, "after mmap");
}

/* Remove pages [first, first + n) from @m, which the kernel unmapped. */
static void fz_cut_out(struct fz_thread *t, struct fz_map *m, size_t first,
		       size_t n)
{
	size_t off = m->off + first;

	if (first == 0 && n == m->pages) {
		m->addr = NULL;
	} else if (first == 0) {
		memmove(m->prot, m->prot + n, (m->pages - n) * sizeof(m->prot[0]));
		memmove(m->cut, m->cut + n, (m->pages - n) * sizeof(m->cut[0]));
		m->addr += n * t->ps;
		m->off += n;
		m->pages -= n;
	} else if (first + n == m->pages) {
		m->pages = first;
	} else {
		/* The middle: the part after it becomes a mapping of its own. */
		struct fz_map *rest = fz_free_map(t);

		*rest = *m;
		m->pages = first;
		fz_cut_out(t, rest, 0, first + n);
	}
	if (m->addr)
		m->cut[0] = false;
	fz_uncover(t, off, n);
}

static void fz_op_munmap(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	size_t first, n;
	long ret;

	if (!m)
		return;
	first = fz_below(t, m->pages);
	n = 1 + fz_below(t, m->pages - first);
	/* A hole in the middle needs a free entry, and adds a VMA. */
	if (first && first + n < m->pages &&
	    (!fz_free_map(t) || fz_total_vmas(t) >= FZ_MAX_VMAS))
		n = m->pages - first;
	fz_note(t, OP_MUNMAP, fz_map_index(t, m), first, n, 0);
	ret = fz_errno(munmap(m->addr + first * t->ps, n * t->ps));
	if (!fz_expect(t, "munmap", ret, 0))
		return;
	fz_cut_out(t, m, first, n);
}

/* Move a mapping that is one VMA to an address reserved for it. */
static void fz_op_mremap_move(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	struct fz_trace *tr;
	size_t len;
	void *to, *p;

	if (!m || fz_vmas(m) != 1)
		return;
	len = m->pages * t->ps;
	to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED) {
		fz_fail(t, "reserving %zu bytes: %s", len, strerror(errno));
		return;
	}
	tr = fz_note(t, OP_MREMAP_MOVE, fz_map_index(t, m), m->pages, 0, 0);
	p = mremap(m->addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	tr->ret = p == MAP_FAILED ? -errno : 0;
	if (p != to) {
		fz_fail(t, "mremap to %p returned %p (%s)", to, p,
			p == MAP_FAILED ? strerror(errno) : "elsewhere");
		munmap(to, len);
		return;
	}
	m->addr = p;
	if (m->prot[0] & PROT_READ)
		fz_verify(t, m, 0, len, "after mremap");
}

static void fz_op_mremap_shrink(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	size_t keep;
	void *p;

	if (!m || m->pages < 2 || fz_vmas(m) != 1)
		return;
	keep = 1 + fz_below(t, m->pages - 1);
	fz_note(t, OP_MREMAP_SHRINK, fz_map_index(t, m), m->pages, keep, 0);
	p = mremap(m->addr, m->pages * t->ps, keep * t->ps, 0);
	if (p != m->addr) {
		fz_fail(t, "mremap shrinking to %zu pages returned %p (%s)", keep,
			p, p == MAP_FAILED ? strerror(errno) : "elsewhere");
		return;
	}
	fz_cut_out(t, m, keep, m->pages - keep);
}

/* zio mappings are VM_DONTEXPAND: growing fails, in place or moving. */
static void fz_op_mremap_grow(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	int flags;
	void *p;

	if (!m)
		return;
	flags = fz_below(t, 2) ? MREMAP_MAYMOVE : 0;
	fz_note(t, OP_MREMAP_GROW, fz_map_index(t, m), m->pages, flags, 0);
	p = mremap(m->addr, m->pages * t->ps, (m->pages + 1) * t->ps, flags);
	if (p != MAP_FAILED) {
		fz_fail(t, "mremap growing a zio mapping succeeded");
		return;
	}
	fz_expect(t, "mremap growing", -errno, -EFAULT);
}

static void fz_op_mprotect(struct fz_thread *t)
{
	static const int prots[] = { PROT_NONE, PROT_READ, PROT_RW, PROT_RW };
	struct fz_map *m = fz_pick_map(t);
	size_t first, n, p;
	int prot;
	long ret;

	/* A split adds up to two VMAs. */
	if (!m || fz_total_vmas(t) > FZ_MAX_VMAS - 2)
		return;
	first = fz_below(t, m->pages);
	n = 1 + fz_below(t, m->pages - first);
	prot = prots[fz_below(t, 4)];
	fz_note(t, OP_MPROTECT, fz_map_index(t, m), first, n, prot);
	ret = fz_errno(mprotect(m->addr + first * t->ps, n * t->ps, prot));
	if (!fz_expect(t, "mprotect", ret, 0))
		return;
	/* A VMA whose protection changes is split at the range's ends. */
	for (p = 0; p < m->pages; ) {
		size_t end = p + 1;

		while (end < m->pages && !m->cut[end])
			end++;
		if (m->prot[p] != prot && p < first + n && end > first) {
			if (p < first)
				m->cut[first] = true;
			if (end > first + n)
				m->cut[first + n] = true;
		}
		p = end;
	}
	for (p = first; p < first + n; p++)
		m->prot[p] = prot;
}

/* MADV_DONTNEED drops the PTEs only: the data stays. */
static void fz_op_madvise(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	size_t first, n;
	long ret;

	if (!m)
		return;
	first = fz_below(t, m->pages);
	n = 1 + fz_below(t, m->pages - first);
	fz_note(t, OP_MADVISE, fz_map_index(t, m), first, n, 0);
	ret = fz_errno(madvise(m->addr + first * t->ps, n * t->ps, MADV_DONTNEED));
	fz_expect(t, "madvise(MADV_DONTNEED)", ret, 0);
}

static void fz_op_load(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	size_t at, len;

	if (!m)
		return;
	fz_pick_range(t, m, SIZE_MAX, &at, &len);
	if (!fz_prot_all(m, fz_first_page(t, at), fz_nr_pages(t, at, len), PROT_READ))
		return;
	fz_note(t, OP_LOAD, fz_map_index(t, m), at, len, 0);
	fz_verify(t, m, at, len, "load");
}

static void fz_op_store(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	size_t at, len;

	if (!m)
		return;
	fz_pick_range(t, m, SIZE_MAX, &at, &len);
	if (!fz_prot_all(m, fz_first_page(t, at), fz_nr_pages(t, at, len), PROT_RW))
		return;
	fz_note(t, OP_STORE, fz_map_index(t, m), at, len, 0);
	fz_random_bytes(t, t->shadow + m->off * t->ps + at, len);
	memcpy(m->addr + at, t->shadow + m->off * t->ps + at, len);
}

static void fz_op_copy(struct fz_thread *t)
{
	struct fz_map *dm = fz_pick_map(t), *sm = fz_pick_map(t);
	size_t s_at, d_at, len, s_file, d_file, dsize;
	struct zio_copy c;
	struct fz_trace *tr;
	bool ok;
	long ret;

	if (!dm)
		return;
	fz_pick_range(t, sm, SIZE_MAX, &s_at, &len);
	dsize = dm->pages * t->ps;
	if (len > dsize)
		len = dsize;
	/* Often at the same offset in the page: shared pages. */
	if (fz_below(t, 2))
		d_at = fz_below(t, (dsize - len) / t->ps + 1) * t->ps + s_at % t->ps;
	else
		d_at = fz_below(t, dsize - len + 1);
	if (d_at + len > dsize)
		len = dsize - d_at;
	/*
	 * Through two aliases of overlapping offsets, memmove() by address
	 * is not memmove() by offset: not a question the model can answer.
	 */
	s_file = sm->off * t->ps + s_at;
	d_file = dm->off * t->ps + d_at;
	if (s_file < d_file + len && d_file < s_file + len &&
	    (long)(d_file - s_file) != (dm->addr + d_at) - (sm->addr + s_at))
		return;

	ok = fz_prot_all(dm, fz_first_page(t, d_at), fz_nr_pages(t, d_at, len), PROT_RW) &&
	     fz_prot_all(sm, fz_first_page(t, s_at), fz_nr_pages(t, s_at, len), PROT_READ);
	tr = fz_note(t, OP_COPY, fz_map_index(t, dm) << 8 | fz_map_index(t, sm),
		     d_at, s_at, len);
	ret = zio_copy(t->zfd, dm->addr + d_at, sm->addr + s_at, len, &c);
	tr->ret = ret;
	if (!fz_expect(t, "ZIO_IOC_COPY", ret, ok ? 0 : -EFAULT) || !ok)
		return;
	if (c.bytes_deferred + c.bytes_copied != len) {
		fz_fail(t, "ZIO_IOC_COPY of %zu bytes did %llu + %llu", len,
			c.bytes_deferred, c.bytes_copied);
		return;
	}
	if (c.bytes_deferred % t->ps) {
		fz_fail(t, "ZIO_IOC_COPY deferred %llu bytes: not whole pages",
			c.bytes_deferred);
		return;
	}
	memmove(t->shadow + d_file, t->shadow + s_file, len);
	/* Now and then at once; else later, from the pages as they are. */
	if (fz_below(t, 4) == 0)
		fz_verify(t, dm, d_at, len, "right after the copy");
}

static void fz_op_discard(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	size_t first, n;
	long ret, want;

	if (!m)
		return;
	first = fz_below(t, m->pages);
	n = 1 + fz_below(t, m->pages - first);
	want = fz_prot_all(m, first, n, PROT_RW) ? 0 : -EFAULT;
	fz_note(t, OP_DISCARD, fz_map_index(t, m), first, n, 0);
	ret = zio_discard(t->zfd, m->addr + first * t->ps, n * t->ps);
	if (!fz_expect(t, "ZIO_IOC_DISCARD", ret, want) || want ||
	    fz.sabotage == FZ_SAB_DISCARD)
		return;
	memset(t->shadow + (m->off + first) * t->ps, 0, n * t->ps);
}

static long fz_io(struct fz_thread *t, unsigned long cmd, int fd, void *addr,
		  size_t len, __u64 offset)
{
	struct zio_io io = {
		.fd = fd, .addr = (uintptr_t)addr, .len = len, .offset = offset,
	};
	long ret = ioctl(t->zfd, cmd, &io);

	return ret < 0 ? -errno : ret;
}

/* ZIO_IOC_WRITE to the tmpfs file or the pipe, and read back. */
static void fz_op_write(struct fz_thread *t, bool to_pipe)
{
	struct fz_map *m = fz_pick_map(t);
	size_t at, len, foff = 0, got;
	struct fz_trace *tr;
	long ret, want;

	if (!m)
		return;
	fz_pick_range(t, m, to_pipe ? FZ_PIPE_MAX : SIZE_MAX, &at, &len);
	want = fz_prot_all(m, fz_first_page(t, at), fz_nr_pages(t, at, len),
			   PROT_READ) ? (long)len : -EFAULT;
	if (!to_pipe)
		foff = fz_below(t, 4 * t->ps);
	tr = fz_note(t, to_pipe ? OP_WRITE_PIPE : OP_WRITE_FILE,
		     fz_map_index(t, m), at, len, foff);
	ret = fz_io(t, ZIO_IOC_WRITE, to_pipe ? t->pipe[1] : t->memfd,
		    m->addr + at, len, to_pipe ? ZIO_IO_FILE_POS : foff);
	tr->ret = ret;
	if (!fz_expect(t, "ZIO_IOC_WRITE", ret, want) || want < 0)
		return;
	memset(t->scratch, 0xa5, len);
	if (to_pipe) {
		for (got = 0; got < len; got += ret) {
			ret = read(t->pipe[0], t->scratch + got, len - got);
			if (ret <= 0) {
				fz_fail(t, "reading the pipe back: %ld", fz_errno(ret));
				return;
			}
		}
	} else {
		ret = pread(t->memfd, t->scratch, len, foff);
		if (!fz_expect(t, "pread of what ZIO_IOC_WRITE wrote", fz_errno(ret), len))
			return;
	}
	if (memcmp(t->scratch, t->shadow + m->off * t->ps + at, len)) {
		size_t i;

		for (i = 0; t->scratch[i] == t->shadow[m->off * t->ps + at + i]; i++)
			;
		fz_fail(t, "ZIO_IOC_WRITE wrote byte %zu as 0x%02x, expected 0x%02x",
			i, t->scratch[i], t->shadow[m->off * t->ps + at + i]);
	}
}

/* New bytes into the tmpfs file or the pipe, then ZIO_IOC_READ them. */
static void fz_op_read(struct fz_thread *t, bool from_pipe)
{
	struct fz_map *m = fz_pick_map(t);
	size_t at, len, foff = 0;
	struct fz_trace *tr;
	long ret, want;

	if (!m)
		return;
	fz_pick_range(t, m, from_pipe ? FZ_PIPE_MAX : SIZE_MAX, &at, &len);
	want = fz_prot_all(m, fz_first_page(t, at), fz_nr_pages(t, at, len),
			   PROT_RW) ? (long)len : -EFAULT;
	fz_random_bytes(t, t->scratch, len);
	if (from_pipe) {
		ret = write(t->pipe[1], t->scratch, len);
		if (!fz_expect(t, "write to the pipe", fz_errno(ret), len))
			return;
	} else {
		foff = fz_below(t, 4 * t->ps);
		ret = pwrite(t->memfd, t->scratch, len, foff);
		if (!fz_expect(t, "pwrite to the file", fz_errno(ret), len))
			return;
	}
	tr = fz_note(t, from_pipe ? OP_READ_PIPE : OP_READ_FILE,
		     fz_map_index(t, m), at, len, foff);
	ret = fz_io(t, ZIO_IOC_READ, from_pipe ? t->pipe[0] : t->memfd,
		    m->addr + at, len, from_pipe ? ZIO_IO_FILE_POS : foff);
	tr->ret = ret;
	if (!fz_expect(t, "ZIO_IOC_READ", ret, want))
		return;
	if (want < 0) {
		/* Nothing was read: empty the pipe for the next time. */
		if (from_pipe && read(t->pipe[0], t->scratch, len) != (ssize_t)len)
			fz_fail(t, "the pipe lost what ZIO_IOC_READ refused");
		return;
	}
	memcpy(t->shadow + m->off * t->ps + at, t->scratch, len);
	if (fz_below(t, 2))
		fz_verify(t, m, at, len, "right after ZIO_IOC_READ");
}

/*
 * In the child: the snapshot is the parent's model; then the child writes
 * and copies in its own space. Only async-signal-safe calls: the parent
 * has other threads.
 */
static bool fz_child_same(struct fz_thread *t, const struct fz_map *m,
			  size_t at, size_t len)
{
	const unsigned char *seen = (const unsigned char *)m->addr + at;
	const unsigned char *want = t->shadow + m->off * t->ps + at;
	size_t i;

	if (!memcmp(seen, want, len))
		return true;
	for (i = 0; seen[i] == want[i]; i++)
		;
	*t->report = (struct fz_child_report){
		.map = fz_map_index(t, m), .byte = at + i,
		.seen = seen[i], .want = want[i],
	};
	return false;
}

static int fz_fork_child(struct fz_thread *t)
{
	uint64_t rng = t->rng ^ 0xc41d;
	struct fz_map *m = NULL;
	size_t len;

	for (int i = 0; i < FZ_MAPS; i++) {
		const struct fz_map *c = &t->maps[i];

		if (!c->addr)
			continue;
		for (size_t p = 0; p < c->pages; p++) {
			if (!(c->prot[p] & PROT_READ))
				continue;
			if (!fz_child_same(t, c, p * t->ps, t->ps))
				return 10 + i;
		}
		if (fz_prot_all(c, 0, c->pages, PROT_RW))
			m = &t->maps[i];
	}
	if (!m || m->pages < 2)
		return 0;
	/* Write the first half, copy it over the second, check both. */
	len = m->pages / 2 * t->ps;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = zio_rand(&rng);

		memcpy(m->addr + i, &v, 8);
		memcpy(t->shadow + m->off * t->ps + i, &v, 8);
	}
	if (!fz_child_same(t, m, 0, m->pages * t->ps))
		return 22;
	if (zio_copy(t->zfd, m->addr + len + 8, m->addr, len - 8, NULL))
		return 20;
	memmove(t->shadow + m->off * t->ps + len + 8, t->shadow + m->off * t->ps,
		len - 8);
	if (!fz_child_same(t, m, 0, m->pages * t->ps))
		return 21;
	return 0;
}

/*
 * A fork snapshots every thread's mappings and zaps them: a store another
 * thread is in the middle of may then go on in a copy of the page, which
 * is what anonymous memory does too. vmsplice-write, which must not see
 * a pipe's page half written, takes this lock to read around its write.
 */
static pthread_rwlock_t fz_fork_lock = PTHREAD_RWLOCK_INITIALIZER;

static void fz_op_fork(struct fz_thread *t)
{
	struct fz_trace *tr = fz_note(t, OP_FORK, 0, 0, 0, 0);
	int status;
	pid_t pid;

	pthread_rwlock_wrlock(&fz_fork_lock);
	pid = fork();
	if (pid)
		pthread_rwlock_unlock(&fz_fork_lock);
	if (pid < 0) {
		fz_fail(t, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		_exit(fz_fork_child(t));
	/* Meanwhile the parent writes: the child must not see it. */
	fz_op_store(t);
	fz_op_store(t);
	if (waitpid(pid, &status, 0) != pid) {
		fz_fail(t, "waitpid: %s", strerror(errno));
		return;
	}
	tr->ret = status;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fz_fail(t, "fork child: status 0x%x (10+i: map i differed from the snapshot; 20-22: its own copy): map %d byte %zu (page %zu) 0x%02x, expected 0x%02x",
			status, t->report->map, t->report->byte,
			t->report->byte / t->ps, t->report->seen, t->report->want);
		return;
	}
	/* And the child's writes did not reach the parent. */
	fz_verify_all(t, "after the fork child exited");
}

/*
 * mlock and msync succeed and change nothing (zio pages are never
 * swapped; mlock skips VM_DONTEXPAND mappings), but mlock of a PROT_NONE
 * page fails with ENOMEM, as anywhere: it cannot fault the page in.
 */
static void fz_op_lock_sync(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	unsigned int kind = fz_below(t, 3);
	struct fz_trace *tr;
	size_t first, n;
	long ret, want;
	char *p;

	if (!m)
		return;
	first = fz_below(t, m->pages);
	n = 1 + fz_below(t, m->pages - first);
	p = m->addr + first * t->ps;
	want = kind == 2 && !fz_prot_all(m, first, n, PROT_READ) ? -ENOMEM : 0;
	tr = fz_note(t, OP_LOCK_SYNC, fz_map_index(t, m), first, n, kind);
	if (kind == 0)
		ret = fz_errno(msync(p, n * t->ps, MS_SYNC));
	else if (kind == 1)
		ret = fz_errno(msync(p, n * t->ps, MS_ASYNC));
	else if ((ret = fz_errno(mlock(p, n * t->ps))) == 0)
		ret = fz_errno(munlock(p, n * t->ps));
	tr->ret = ret;
	fz_expect(t, kind < 2 ? "msync" : "mlock/munlock", ret, want);
}

/*
 * vmsplice: the pipe holds references to the pages until it is drained,
 * at the next vmsplice; meanwhile zio must copy instead of writing those
 * pages in place or sharing them. What the pipe reads is not checked
 * (a page mapped writable before may still be written in place).
 */
static void fz_op_vmsplice(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	struct iovec iov;
	size_t at, len;
	long ret;

	if (t->vpipe_bytes) {
		fz_note(t, OP_VMSPLICE, -1, 0, t->vpipe_bytes, 0);
		while (t->vpipe_bytes) {
			ret = read(t->vpipe[0], t->scratch,
				   t->vpipe_bytes < FZ_PIPE_MAX ? t->vpipe_bytes : FZ_PIPE_MAX);
			if (ret <= 0) {
				fz_fail(t, "draining the vmsplice pipe: %ld", fz_errno(ret));
				return;
			}
			t->vpipe_bytes -= ret;
		}
		return;
	}
	if (!m)
		return;
	fz_pick_range(t, m, FZ_PIPE_MAX, &at, &len);
	if (!fz_prot_all(m, fz_first_page(t, at), fz_nr_pages(t, at, len), PROT_READ))
		return;
	iov = (struct iovec){ .iov_base = m->addr + at, .iov_len = len };
	fz_note(t, OP_VMSPLICE, fz_map_index(t, m), at, len, 0);
	ret = fz_errno(vmsplice(t->vpipe[1], &iov, 1, SPLICE_F_NONBLOCK));
	if (ret <= 0) {
		fz_fail(t, "vmsplice of %zu bytes: %ld", len, ret);
		return;
	}
	t->vpipe_bytes = ret;
}

/* process_vm_readv() of the process itself: through get_user_pages(). */
static void fz_op_vm_readv(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	struct iovec local, remote;
	size_t at, len;
	long ret;

	if (!m)
		return;
	fz_pick_range(t, m, FZ_MAP_PAGES * t->ps, &at, &len);
	if (!fz_prot_all(m, fz_first_page(t, at), fz_nr_pages(t, at, len), PROT_READ))
		return;
	local = (struct iovec){ .iov_base = t->scratch, .iov_len = len };
	remote = (struct iovec){ .iov_base = m->addr + at, .iov_len = len };
	fz_note(t, OP_VM_READV, fz_map_index(t, m), at, len, 0);
	ret = fz_errno(process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	if (!fz_expect(t, "process_vm_readv", ret, len))
		return;
	if (memcmp(t->scratch, t->shadow + m->off * t->ps + at, len))
		fz_fail(t, "process_vm_readv read other bytes than the model's");
}

/* ZIO_IOC_WRITE/READ with send()/recv() flags, at the file position. */
static long fz_io_msg(struct fz_thread *t, unsigned long cmd, int fd,
		      void *addr, size_t len, unsigned int flags)
{
	struct zio_io io = {
		.fd = fd, .addr = (uintptr_t)addr, .len = len,
		.offset = ZIO_IO_FILE_POS, .msg_flags = flags,
	};
	long ret = ioctl(t->zfd, cmd, &io);

	return ret < 0 ? -errno : ret;
}

static const char * const fz_sock_name[FZ_SOCK_KINDS] = {
	"unix-stream", "unix-dgram", "udp", "tcp",
};

static const unsigned int fz_recv_flags[] = {
	0, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, MSG_DONTWAIT,
};

static const char * const fz_recv_flag_name[] = {
	"0", "MSG_PEEK", "MSG_TRUNC", "MSG_WAITALL", "MSG_DONTWAIT",
};

/* Send all of @len bytes at @buf, as one datagram on a datagram socket. */
static bool fz_send_all(struct fz_thread *t, int fd, const void *buf,
			size_t len, const char *what)
{
	for (size_t done = 0; done < len; ) {
		ssize_t ret = send(fd, (const char *)buf + done, len - done,
				   MSG_NOSIGNAL);

		if (ret <= 0) {
			fz_fail(t, "%s: send of %zu bytes: %ld", what, len - done,
				fz_errno(ret));
			return false;
		}
		done += ret;
	}
	return true;
}

/*
 * Wait until the receiver @fd has @len bytes queued (the first datagram's
 * length, on a datagram socket): loopback delivers them in a softirq.
 */
static bool fz_wait_queued(struct fz_thread *t, int fd, size_t len,
			   const char *what)
{
	int queued = 0;

	for (int ms = 0; ms < FZ_WAIT_MS; ms++) {
		if (ioctl(fd, FIONREAD, &queued)) {
			fz_fail(t, "%s: FIONREAD: %s", what, strerror(errno));
			return false;
		}
		if ((size_t)queued >= len)
			break;
		usleep(1000);
	}
	if ((size_t)queued == len)
		return true;
	fz_fail(t, "%s: %d bytes queued, expected %zu", what, queued, len);
	return false;
}

/* Read what @fd holds, without waiting: 0 or more datagrams, or bytes. */
static bool fz_drain(struct fz_thread *t, int fd, unsigned char *buf,
		     size_t cap, size_t *len, const char *what)
{
	*len = 0;
	for (;;) {
		ssize_t ret = recv(fd, buf + *len, cap - *len, MSG_DONTWAIT);

		if ((ret < 0 && errno == EAGAIN) || ret == 0)
			return true;
		if (ret < 0 || *len + ret >= cap) {
			fz_fail(t, "%s: draining the socket: %ld", what, fz_errno(ret));
			return false;
		}
		*len += ret;
	}
}

/*
 * ZIO_IOC_READ from a socket with a recv() flag, into any range: the model
 * is recv() itself, with the same flag on a twin connection of the same
 * kind that holds the same bytes, into plain memory that holds what the
 * range held. Its return and its buffer are what ZIO_IOC_READ must give,
 * bytes recv() does not write included (TCP's MSG_TRUNC discards the data
 * and writes nothing; a datagram's MSG_TRUNC writes what fits and returns
 * the datagram's length; MSG_PEEK leaves the data queued); what stays
 * queued must be the same on both, and is drained.
 *
 * Trace: map, byte, length, socket kind * 10 + flag (fz_sock_name,
 * fz_recv_flags).
 */
static void fz_op_recv(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	unsigned int kind = fz_below(t, FZ_SOCK_KINDS);
	unsigned int flag = fz_below(t, ARRAY_SIZE(fz_recv_flags));
	unsigned int flags = fz_recv_flags[flag];
	bool stream = kind == 0 || kind == 3;
	size_t at, len, n, got[2], most, extra = fz.sabotage == FZ_SAB_RECV;
	struct fz_trace *tr;
	unsigned char *model;
	char what[128];
	long ret, want;

	if (!m)
		return;
	fz_pick_range(t, m, FZ_MAP_PAGES * t->ps, &at, &len);
	/* MSG_WAITALL on a stream would wait for the bytes that are not sent. */
	if (!stream)
		n = 1 + fz_below(t, len + t->ps < 65506 ? len + t->ps : 65506);
	else if (flags & MSG_WAITALL)
		n = len + fz_below(t, t->ps);
	else
		n = 1 + fz_below(t, len + t->ps);
	fz_random_bytes(t, t->payload, n + 1);
	snprintf(what, sizeof(what), "ZIO_IOC_READ of %zu bytes from %s (%zu queued) with %s",
		 len, fz_sock_name[kind], n, fz_recv_flag_name[flag]);

	if (!fz_send_all(t, t->rsock[kind][0][1], t->payload, n, what) ||
	    !fz_send_all(t, t->rsock[kind][1][1], t->payload, n + extra, what) ||
	    !fz_wait_queued(t, t->rsock[kind][0][0], n, what) ||
	    !fz_wait_queued(t, t->rsock[kind][1][0], n + extra, what))
		return;

	model = t->shadow + m->off * t->ps + at;
	tr = fz_note(t, OP_RECV, fz_map_index(t, m), at, len, kind * 10 + flag);
	if (!fz_prot_all(m, fz_first_page(t, at), fz_nr_pages(t, at, len), PROT_RW)) {
		/* Refused before anything left the socket. */
		want = -EFAULT;
	} else {
		memcpy(t->twin, model, len);
		want = fz_errno(recv(t->rsock[kind][1][0], t->twin, len, flags));
	}
	ret = fz_io_msg(t, ZIO_IOC_READ, t->rsock[kind][0][0], m->addr + at,
			len, flags);
	tr->ret = ret;
	if (!fz_expect(t, what, ret, want))
		return;
	if (want >= 0) {
		memcpy(model, t->twin, len);
		if (!fz_verify(t, m, at, len, what))
			return;
	}

	/* What stayed queued, the same on both. */
	most = (FZ_MAP_PAGES + 2) * t->ps;
	if (!fz_drain(t, t->rsock[kind][0][0], t->rest[0], most, &got[0], what) ||
	    !fz_drain(t, t->rsock[kind][1][0], t->rest[1], most, &got[1], what))
		return;
	if (got[0] != got[1]) {
		fz_fail(t, "%s: %zu bytes stayed queued, expected %zu", what,
			got[0], got[1]);
		return;
	}
	for (size_t i = 0; i < got[0]; i++) {
		if (t->rest[0][i] != t->rest[1][i]) {
			fz_fail(t, "%s: byte %zu of what stayed queued is 0x%02x, expected 0x%02x",
				what, i, t->rest[0][i], t->rest[1][i]);
			return;
		}
	}
}

/* Whether @len bytes at @seen are those at @want; else the failure. */
static bool fz_same(struct fz_thread *t, const unsigned char *seen,
		    const unsigned char *want, size_t len, const char *what)
{
	size_t i;

	if (!memcmp(seen, want, len))
		return true;
	for (i = 0; seen[i] == want[i]; i++)
		;
	fz_fail(t, "%s: byte %zu (page %zu) is 0x%02x, expected 0x%02x", what,
		i, i / t->ps, seen[i], want[i]);
	return false;
}

/* A store into [@at, @at + @len) of @m, which is writable. */
static void fz_store_range(struct fz_thread *t, struct fz_map *m, size_t at,
			   size_t len)
{
	unsigned char *model = t->shadow + m->off * t->ps + at;

	fz_note(t, OP_STORE, fz_map_index(t, m), at, len, 0);
	fz_random_bytes(t, model, len);
	memcpy(m->addr + at, model, len);
}

/*
 * ZIO_IOC_COPY into [@at, @at + @len) of @m, which is writable, from
 * elsewhere in @m (when readable there).
 */
static void fz_copy_into(struct fz_thread *t, struct fz_map *m, size_t at,
			 size_t len)
{
	size_t src = fz_below(t, m->pages * t->ps - len + 1);
	unsigned char *model = t->shadow + m->off * t->ps;
	struct fz_trace *tr;
	struct zio_copy c;
	long ret;

	if (!fz_prot_all(m, fz_first_page(t, src), fz_nr_pages(t, src, len), PROT_READ))
		return;
	tr = fz_note(t, OP_COPY, fz_map_index(t, m) << 8 | fz_map_index(t, m),
		     at, src, len);
	ret = zio_copy(t->zfd, m->addr + at, m->addr + src, len, &c);
	tr->ret = ret;
	if (!fz_expect(t, "ZIO_IOC_COPY", ret, 0))
		return;
	if (c.bytes_deferred + c.bytes_copied != len) {
		fz_fail(t, "ZIO_IOC_COPY of %zu bytes did %llu + %llu", len,
			c.bytes_deferred, c.bytes_copied);
		return;
	}
	memmove(model + at, model + src, len);
}

/* ZIO_IOC_READ of new bytes into [@at, @at + @len) of @m, writable. */
static void fz_read_into(struct fz_thread *t, struct fz_map *m, size_t at,
			 size_t len)
{
	struct fz_trace *tr;
	long ret;

	fz_random_bytes(t, t->scratch, len);
	ret = pwrite(t->memfd, t->scratch, len, 0);
	if (!fz_expect(t, "pwrite to the file", fz_errno(ret), len))
		return;
	tr = fz_note(t, OP_READ_FILE, fz_map_index(t, m), at, len, 0);
	ret = fz_io(t, ZIO_IOC_READ, t->memfd, m->addr + at, len, 0);
	tr->ret = ret;
	if (!fz_expect(t, "ZIO_IOC_READ", ret, len))
		return;
	memcpy(t->shadow + m->off * t->ps + at, t->scratch, len);
}

/* Write [@at, @at + @len) of @m, if writable: @how 0 store, 1 copy, 2 read. */
static void fz_write_range(struct fz_thread *t, struct fz_map *m,
			   unsigned int how, size_t at, size_t len)
{
	if (!fz_prot_all(m, fz_first_page(t, at), fz_nr_pages(t, at, len), PROT_RW))
		return;
	if (how == 0)
		fz_store_range(t, m, at, len);
	else if (how == 1)
		fz_copy_into(t, m, at, len);
	else if (how == 2)
		fz_read_into(t, m, at, len);
}

static bool fz_wait_readable(struct fz_thread *t, int fd, const char *what)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ret = poll(&p, 1, FZ_WAIT_MS);

	if (ret == 1)
		return true;
	fz_fail(t, "%s: nothing to read after %d ms (%s)", what, FZ_WAIT_MS,
		ret < 0 ? strerror(errno) : "poll timed out");
	return false;
}

/*
 * What the TCP peer mapped must still read as the bytes at the send. The
 * failure says what the sender's buffer (its model) holds there now.
 */
static void fz_zc_check(struct fz_thread *t, const char *when)
{
	const unsigned char *seen = (unsigned char *)t->zc_area;
	size_t i;

	if (!t->zc_held || t->failed || !memcmp(seen, t->zc_want, t->zc_held))
		return;
	for (i = 0; seen[i] == t->zc_want[i]; i++)
		;
	fz_fail(t, "%s: the TCP peer's zerocopy mapping of what the thread sent, byte %zu (page %zu), is 0x%02x, expected 0x%02x, the byte at the send; the sender's buffer holds 0x%02x there now (partition page %zu)",
		when, i, i / t->ps, seen[i], t->zc_want[i],
		t->shadow[t->zc_from[i / t->ps] + i % t->ps],
		t->zc_from[i / t->ps] / t->ps);
}

static void fz_zc_release(struct fz_thread *t, const char *when)
{
	fz_zc_check(t, when);
	if (t->zc_area)
		munmap(t->zc_area, FZ_MAP_PAGES * t->ps);
	t->zc_area = NULL;
	t->zc_held = 0;
}

/*
 * The TCP peer receives @len bytes, which must be t->sent (sent from
 * partition byte @from): whole pages the kernel maps with
 * TCP_ZEROCOPY_RECEIVE into t->zc_area, one after the other, the rest
 * (what its recv_skip_hint says) with recv().
 */
static bool fz_tcp_receive(struct fz_thread *t, size_t len, size_t from)
{
	size_t area = FZ_MAP_PAGES * t->ps, got = 0, cursor = 0;
	int fd = t->zc_sock[0], queued = -1;

	t->zc_area = mmap(NULL, area, PROT_READ, MAP_SHARED, fd, 0);
	if (t->zc_area == MAP_FAILED) {
		t->zc_area = NULL;
		fz_fail(t, "mmap of the TCP peer's socket: %s", strerror(errno));
		return false;
	}
	for (int rounds = 0; got < len; rounds++) {
		struct tcp_zerocopy_receive zc = {
			.address = (uintptr_t)(t->zc_area + cursor),
			.length = area - cursor,
		};
		socklen_t zlen = sizeof(zc);
		ssize_t ret;

		if (rounds > 10000) {
			fz_fail(t, "the TCP peer got %zu bytes of %zu in 10000 rounds",
				got, len);
			return false;
		}
		if (getsockopt(fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &zlen)) {
			fz_fail(t, "TCP_ZEROCOPY_RECEIVE: %s", strerror(errno));
			return false;
		}
		if (zc.length > len - got || zc.length % t->ps ||
		    zc.recv_skip_hint > len - got - zc.length) {
			fz_fail(t, "TCP_ZEROCOPY_RECEIVE mapped %u bytes and hinted %u, with %zu to come",
				zc.length, zc.recv_skip_hint, len - got);
			return false;
		}
		if (zc.length) {
			t->zc_held = cursor + zc.length;
			if (!fz_same(t, (unsigned char *)t->zc_area + cursor,
				     t->sent + got, zc.length,
				     "what TCP_ZEROCOPY_RECEIVE mapped of what the thread sent"))
				return false;
			memcpy(t->zc_want + cursor, t->sent + got, zc.length);
			for (size_t p = 0; p < zc.length; p += t->ps)
				t->zc_from[(cursor + p) / t->ps] = from + got + p;
			cursor += zc.length;
			got += zc.length;
			t->zc_mapped += zc.length;
			continue;
		}
		if (!zc.recv_skip_hint) {
			/* Nothing queued yet. */
			if (!fz_wait_readable(t, fd, "the TCP peer"))
				return false;
			continue;
		}
		ret = recv(fd, t->scratch, zc.recv_skip_hint, MSG_DONTWAIT);
		if (ret <= 0) {
			fz_fail(t, "recv() of the %u bytes TCP_ZEROCOPY_RECEIVE left: %ld",
				zc.recv_skip_hint, fz_errno(ret));
			return false;
		}
		if (!fz_same(t, t->scratch, t->sent + got, ret,
			     "what the TCP peer recv() of what the thread sent"))
			return false;
		got += ret;
	}
	if (ioctl(fd, FIONREAD, &queued) || queued) {
		fz_fail(t, "the TCP peer has %d bytes more than were sent", queued);
		return false;
	}
	return true;
}

/*
 * ZIO_IOC_WRITE of whole pages to a TCP peer on loopback that receives
 * with TCP_ZEROCOPY_RECEIVE, as tools/testing/selftests/net/tcp_mmap.c
 * does: the kernel maps the pages that arrived whole and page-aligned
 * (TCP_MAXSEG of a page and 12 bytes for the timestamps makes segments
 * of whole pages) into the peer's mmap() of its socket, and the peer
 * recv()s the rest. zio sends by reference the pages it deferred or a
 * read put in place (the range often gets a whole-page ZIO_IOC_READ
 * first), so the kernel may map zio's own pages into the peer. Either
 * way the peer must get the model's bytes at the send, even when the
 * sender writes the range before the peer reads (a store, a partial
 * copy or a read into it); and the pages it mapped must keep them while
 * the sender writes on: they are held for up to 32 of the thread's
 * operations and checked after each. A mapped page that a later write
 * of the sender changes is a live view of the sender's memory.
 *
 * Trace: map, first page, pages, msg_flags.
 */
static void fz_op_tcp_send(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	size_t first, n, at, len, poke_at[2], poke_len[2];
	unsigned int flags, prep, poke[2];
	struct fz_trace *tr;
	unsigned char *model;
	long hold, ret;

	if (!m)
		return;
	first = fz_below(t, m->pages);
	n = 1 + fz_below(t, m->pages - first);
	at = first * t->ps;
	len = n * t->ps;
	flags = fz_below(t, 2) ? MSG_DONTWAIT | MSG_NOSIGNAL : 0;
	prep = fz_below(t, 2);
	for (int i = 0; i < 2; i++) {
		poke[i] = fz_below(t, 4);	/* 3: no write */
		poke_at[i] = at + fz_below(t, len);
		poke_len[i] = 1 + fz_below(t, at + len - poke_at[i] < 2 * t->ps ?
					       at + len - poke_at[i] : 2 * t->ps);
	}
	hold = 1 + fz_below(t, 32);

	fz_zc_release(t, "before the next send");
	if (prep)
		fz_write_range(t, m, 2, at, len);
	if (t->failed)
		return;
	model = t->shadow + m->off * t->ps + at;
	memcpy(t->sent, model, len);
	tr = fz_note(t, OP_TCP_SEND, fz_map_index(t, m), first, n, flags);
	ret = fz_io_msg(t, ZIO_IOC_WRITE, t->zc_sock[1], m->addr + at, len, flags);
	tr->ret = ret;
	if (!fz_prot_all(m, first, n, PROT_READ)) {
		fz_expect(t, "ZIO_IOC_WRITE to TCP", ret, -EFAULT);
		return;
	}
	if ((flags & MSG_DONTWAIT) && ret == -EAGAIN)
		ret = 0;
	if (!((flags & MSG_DONTWAIT) && ret >= 0 && ret < (long)len) &&
	    !fz_expect(t, "ZIO_IOC_WRITE to TCP", ret, len))
		return;
	fz_write_range(t, m, poke[0], poke_at[0], poke_len[0]);
	if (fz.sabotage == FZ_SAB_TCP)
		memcpy(t->sent, model, len);
	if (t->failed || !fz_tcp_receive(t, ret, m->off * t->ps + at))
		return;
	t->zc_sends++;
	t->zc_bytes += ret;
	fz_write_range(t, m, poke[1], poke_at[1], poke_len[1]);
	fz_zc_check(t, "after the send, the receive and a write of the sender");
	if (t->zc_held)
		t->zc_release = t->ops + hold;
	else
		fz_zc_release(t, NULL);
}

static long fz_io_submit(aio_context_t ctx, struct iocb *cb)
{
	return syscall(SYS_io_submit, ctx, 1L, &cb);
}

/* The completion of the one I/O in flight, or -errno. */
static long fz_io_wait(aio_context_t ctx, struct io_event *ev)
{
	struct timespec ts = { .tv_sec = FZ_WAIT_MS / 1000 * 3 };
	long ret = syscall(SYS_io_getevents, ctx, 1L, 1L, ev, &ts);

	return ret < 0 ? -errno : ret;
}

/*
 * An O_DIRECT read (or write) of whole pages between the thread's file on
 * ext4 and a page-aligned range of its buffer, submitted with io_submit(),
 * and while it is in flight, MADV_DONTNEED of (part of) the range and/or
 * a load of it: the pages the I/O pinned must stay the range's pages.
 * Once complete, a read must have brought the file's bytes (often new
 * ones, written with pwrite() first) into the buffer, and a write must
 * have put the model's bytes at the submit into the file (read back).
 * Nothing stores into the range meanwhile. A load during a write is
 * checked; during a read it only faults the pages back (what it sees is
 * not decided yet).
 *
 * Trace: map, first page, pages, file page * 100 + 10 * write + what was
 * done in flight (1: MADV_DONTNEED, 2: a load, 3: both).
 */
static void fz_op_direct(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	unsigned int during, write, refill;
	size_t first, n, fpage, zf, zn, len;
	struct io_event ev = { 0 };
	struct fz_trace *tr;
	unsigned char *model, *file;
	struct iocb cb;
	long ret;

	if (!m || t->dfd < 0)
		return;
	first = fz_below(t, m->pages);
	n = 1 + fz_below(t, m->pages - first);
	fpage = fz_below(t, FZ_DIO_PAGES - n + 1);
	write = fz_below(t, 2);
	refill = fz_below(t, 2);
	during = fz_below(t, 4);
	zf = fz_below(t, n);
	zn = 1 + fz_below(t, n - zf);
	len = n * t->ps;
	model = t->shadow + (m->off + first) * t->ps;
	file = t->dmodel + fpage * t->ps;
	if (!fz_prot_all(m, first, n, write ? PROT_READ : PROT_RW))
		return;
	if (!write && refill) {
		/* New bytes in the file (from page-aligned anonymous memory). */
		fz_random_bytes(t, file, len);
		ret = pwrite(t->dfd, file, len, fpage * t->ps);
		if (!fz_expect(t, "O_DIRECT pwrite to the file", fz_errno(ret), len))
			return;
	}
	if (write)
		memcpy(t->sent, model, len);	/* the bytes at the submit */

	tr = fz_note(t, OP_DIRECT, fz_map_index(t, m), first, n,
		     fpage * 100 + write * 10 + during);
	cb = (struct iocb){
		.aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD,
		.aio_fildes = t->dfd,
		.aio_buf = (uintptr_t)(m->addr + first * t->ps),
		.aio_nbytes = len,
		.aio_offset = fpage * t->ps,
	};
	ret = fz_errno(fz_io_submit(t->aio, &cb));
	if (ret != 1) {
		tr->ret = ret;
		fz_fail(t, "io_submit of an O_DIRECT %s of %zu bytes: %ld",
			write ? "write" : "read", len, ret);
		return;
	}
	if (during & 1) {
		ret = fz_errno(madvise(m->addr + (first + zf) * t->ps, zn * t->ps,
				       MADV_DONTNEED));
		fz_expect(t, "madvise(MADV_DONTNEED) with O_DIRECT in flight", ret, 0);
	}
	if (during & 2) {
		if (write) {
			fz_verify(t, m, first * t->ps, len,
				  "a load while an O_DIRECT write from the range is in flight");
		} else {
			for (size_t p = 0; p < n; p++)
				(void)*(volatile char *)(m->addr + (first + p) * t->ps);
		}
	}
	/* Whether it was still in flight after all that (for the report). */
	ret = fz_errno(syscall(SYS_io_getevents, t->aio, 0L, 1L, &ev,
				     &(struct timespec){ 0 }));
	if (ret == 0) {
		t->dio_in_flight++;
		ret = fz_io_wait(t->aio, &ev);
	}
	tr->ret = ret == 1 ? (long)ev.res : ret;
	if (ret != 1) {
		fz_fail(t, "the O_DIRECT %s did not complete: %ld",
			write ? "write" : "read", ret);
		return;
	}
	if (!fz_expect(t, write ? "O_DIRECT write from the buffer" :
			  "O_DIRECT read into the buffer", (long)ev.res, len) ||
	    t->failed)
		return;
	if (!write) {
		t->dio_reads++;
		if (fz.sabotage != FZ_SAB_DIRECT)
			memcpy(model, file, len);
		fz_verify(t, m, first * t->ps, len,
			  "after an O_DIRECT read into the buffer, zapped in flight");
		return;
	}
	t->dio_writes++;
	memcpy(file, t->sent, len);
	ret = pread(t->dfd, t->scratch, len, fpage * t->ps);
	if (fz_expect(t, "O_DIRECT pread of the file", fz_errno(ret), len))
		fz_same(t, t->scratch, file, len,
			"the file after an O_DIRECT write from the buffer, zapped in flight");
}

/*
 * vmsplice() (no SPLICE_F_GIFT) of a range of the buffer into a pipe,
 * then one write of part of the range: a store, ZIO_IOC_COPY into it,
 * ZIO_IOC_READ into it, ZIO_IOC_DISCARD of its pages, or MADV_DONTNEED
 * (no write at all); then the pipe is read. The pipe holds pages, not
 * bytes: a page that one slot holds may be written in place, as a shared
 * file mapping would be, and the pipe then reads the new bytes; a page
 * that is shared (the source or destination of an earlier page-aligned
 * copy) is copied on write, and a page a whole-page copy, a read or a
 * discard takes out of its slot stays as it was, so the pipe reads the
 * bytes at the vmsplice. The model cannot tell which, so each page of
 * what the pipe reads must be, as a whole, either the model's bytes at
 * the vmsplice or those at the read: never a mix, nor anything else (no
 * other thread forks during the write, see fz_fork_lock). The buffer
 * itself must be the model's exactly, as always.
 *
 * Trace: map, byte, length, the write (0 store, 1 copy, 2 read, 3
 * discard, 4 MADV_DONTNEED).
 */
static void fz_op_vmsplice_write(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	size_t at, len, w_at, w_len, wp, wn, spliced, end;
	unsigned char *model;
	struct fz_trace *tr;
	struct iovec iov;
	unsigned int how;
	long ret;

	if (!m)
		return;
	/* At most 16 pages, one pipe buffer each: it takes them all. */
	fz_pick_range(t, m, (FZ_PIPE_MAX / t->ps - 1) * t->ps, &at, &len);
	how = fz_below(t, 5);
	w_at = at + fz_below(t, len);
	w_len = 1 + fz_below(t, at + len - w_at);
	if (!fz_prot_all(m, fz_first_page(t, at), fz_nr_pages(t, at, len), PROT_READ))
		return;
	model = t->shadow + m->off * t->ps + at;
	memcpy(t->vs_old, model, len);
	iov = (struct iovec){ .iov_base = m->addr + at, .iov_len = len };
	tr = fz_note(t, OP_VMSPLICE_WRITE, fz_map_index(t, m), at, len, how);
	ret = fz_errno(vmsplice(t->spipe[1], &iov, 1, SPLICE_F_NONBLOCK));
	tr->ret = ret;
	if (ret <= 0) {
		fz_fail(t, "vmsplice of %zu bytes: %ld", len, ret);
		return;
	}
	spliced = ret;

	wp = fz_first_page(t, w_at);
	wn = fz_nr_pages(t, w_at, w_len);
	/* No fork in the middle of the write: see fz_fork_lock. */
	pthread_rwlock_rdlock(&fz_fork_lock);
	if (how < 3) {
		fz_write_range(t, m, how, w_at, w_len);
	} else if (how == 3 && fz_prot_all(m, wp, wn, PROT_RW)) {
		tr = fz_note(t, OP_DISCARD, fz_map_index(t, m), wp, wn, 0);
		tr->ret = zio_discard(t->zfd, m->addr + wp * t->ps, wn * t->ps);
		if (fz_expect(t, "ZIO_IOC_DISCARD", tr->ret, 0))
			memset(t->shadow + (m->off + wp) * t->ps, 0, wn * t->ps);
	} else if (how == 4) {
		tr = fz_note(t, OP_MADVISE, fz_map_index(t, m), wp, wn, 0);
		tr->ret = fz_errno(madvise(m->addr + wp * t->ps, wn * t->ps,
					   MADV_DONTNEED));
		fz_expect(t, "madvise(MADV_DONTNEED)", tr->ret, 0);
	}
	pthread_rwlock_unlock(&fz_fork_lock);
	if (fz.sabotage == FZ_SAB_VMSPLICE)
		memcpy(t->vs_old, model, len);
	if (t->failed || !fz_verify(t, m, at, len, "after a write to a vmspliced range"))
		return;

	for (size_t got = 0; got < spliced; got += ret) {
		ret = read(t->spipe[0], t->scratch + got, spliced - got);
		if (ret <= 0) {
			fz_fail(t, "reading the vmsplice pipe: %ld", fz_errno(ret));
			return;
		}
	}
	/* Page by page: what the pipe read of each page of the range. */
	for (size_t off = 0; off < spliced; off = end) {
		const unsigned char *seen = t->scratch + off;
		size_t i, j, n;
		bool old, now;

		end = (at + off) / t->ps * t->ps + t->ps - at;
		if (end > spliced)
			end = spliced;
		n = end - off;
		now = !memcmp(seen, model + off, n);
		old = !memcmp(seen, t->vs_old + off, n);
		if (old || now) {
			t->vs_pages[old && now ? 0 : old ? 1 : 2]++;
			continue;
		}
		for (i = 0; seen[i] == t->vs_old[off + i]; i++)
			;
		for (j = 0; seen[j] == model[off + j]; j++)
			;
		fz_fail(t, "the pipe read page %zu of the map (bytes %zu to %zu of what was vmspliced) as neither the bytes at the vmsplice nor those at the read: byte %zu is 0x%02x, expected 0x%02x (at the vmsplice); byte %zu is 0x%02x, expected 0x%02x (at the read)",
			fz_first_page(t, at + off), off, end, off + i, seen[i],
			t->vs_old[off + i], off + j, seen[j], model[off + j]);
		return;
	}
}

/* Input the ioctls must refuse, with the documented errno. */
static void fz_op_bad(struct fz_thread *t)
{
	struct fz_map *m = fz_pick_map(t);
	unsigned int kind = fz_below(t, 8);
	struct zio_copy c = { 0 };
	struct zio_range r = { 0 };
	long ret, want;
	void *p;

	if (!m)
		return;
	fz_note(t, OP_BAD, kind, 0, 0, 0);
	c.dst = (uintptr_t)m->addr;
	c.src = (uintptr_t)m->addr;
	c.len = t->ps;
	switch (kind) {
	case 0:		/* unknown flags */
		c.flags = 1ULL << fz_below(t, 64);
		want = -EINVAL;
		ret = zio_ioctl(t->zfd, ZIO_IOC_COPY, &c);
		break;
	case 1:		/* a range that wraps */
		c.len = ~0ULL - c.dst + 2;
		want = -EOVERFLOW;
		ret = zio_ioctl(t->zfd, ZIO_IOC_COPY, &c);
		break;
	case 2:		/* a source outside zio: the thread's scratch buffer */
		c.src = (uintptr_t)t->scratch;
		want = -EFAULT;
		ret = zio_ioctl(t->zfd, ZIO_IOC_COPY, &c);
		break;
	case 3:		/* a discard that is not page aligned */
		r.addr = (uintptr_t)m->addr + 1 + fz_below(t, t->ps - 1);
		r.len = t->ps;
		want = -EINVAL;
		ret = zio_ioctl(t->zfd, ZIO_IOC_DISCARD, &r);
		break;
	case 4:		/* reserved fields */
		r.addr = (uintptr_t)m->addr;
		r.len = t->ps;
		r.reserved = 1;
		want = -EINVAL;
		ret = zio_ioctl(t->zfd, ZIO_IOC_DISCARD, &r);
		break;
	case 5:		/* a source in a mapping of another open */
		c.src = (uintptr_t)t->foreign;
		want = -EFAULT;
		ret = zio_ioctl(t->zfd, ZIO_IOC_COPY, &c);
		break;
	case 6:		/* a buffer in a mapping of another open */
		ret = fz_io(t, ZIO_IOC_WRITE, t->memfd, t->foreign, t->ps, 0);
		want = -EFAULT;
		break;
	default:	/* a private mapping */
		p = mmap(NULL, t->ps, PROT_READ, MAP_PRIVATE, t->zfd,
			 t->base * t->ps);
		ret = p == MAP_FAILED ? -errno : 0;
		if (p != MAP_FAILED)
			munmap(p, t->ps);
		want = -EINVAL;
		break;
	}
	fz_expect(t, "bad input", ret, want);
}

static bool fz_time_up(struct fz_thread *t)
{
	if (fz.max_ops)
		return t->ops >= fz.max_ops;
	return atomic_load(&fz.stop);
}

static void *fz_run(void *arg)
{
	struct fz_thread *t = arg;
	unsigned int sum = 0;

	for (int i = 0; i < OP_NR; i++)
		sum += fz.weight[i];
	while (!t->failed && !fz_time_up(t)) {
		unsigned int pick = fz_below(t, sum);
		enum fz_op op = 0;

		while (pick >= fz.weight[op])
			pick -= fz.weight[op++];
		switch (op) {
		case OP_MMAP: fz_op_mmap(t); break;
		case OP_MUNMAP: fz_op_munmap(t); break;
		case OP_MREMAP_MOVE: fz_op_mremap_move(t); break;
		case OP_MREMAP_SHRINK: fz_op_mremap_shrink(t); break;
		case OP_MREMAP_GROW: fz_op_mremap_grow(t); break;
		case OP_MPROTECT: fz_op_mprotect(t); break;
		case OP_MADVISE: fz_op_madvise(t); break;
		case OP_LOAD: fz_op_load(t); break;
		case OP_STORE: fz_op_store(t); break;
		case OP_COPY: fz_op_copy(t); break;
		case OP_DISCARD: fz_op_discard(t); break;
		case OP_WRITE_FILE: fz_op_write(t, false); break;
		case OP_READ_FILE: fz_op_read(t, false); break;
		case OP_WRITE_PIPE: fz_op_write(t, true); break;
		case OP_READ_PIPE: fz_op_read(t, true); break;
		case OP_FORK: fz_op_fork(t); break;
		case OP_BAD: fz_op_bad(t); break;
		case OP_LOCK_SYNC: fz_op_lock_sync(t); break;
		case OP_VMSPLICE: fz_op_vmsplice(t); break;
		case OP_VM_READV: fz_op_vm_readv(t); break;
		case OP_RECV: fz_op_recv(t); break;
		case OP_TCP_SEND: fz_op_tcp_send(t); break;
		case OP_DIRECT: fz_op_direct(t); break;
		case OP_VMSPLICE_WRITE: fz_op_vmsplice_write(t); break;
		case OP_CHECK:
			fz_note(t, OP_CHECK, 0, 0, 0, 0);
			fz_verify_all(t, "check");
			break;
		default: break;
		}
		if (t->zc_held && t->ops >= t->zc_release)
			fz_zc_release(t, "after the thread's later operations");
		else
			fz_zc_check(t, "after a later operation of the thread");
	}
	fz_zc_release(t, "at the end");
	if (!t->failed)
		fz_verify_all(t, "at the end");
	return NULL;
}

static void fz_print_trace(const struct fz_thread *t)
{
	long first = t->ops > FZ_TRACE ? t->ops - FZ_TRACE : 0;

	fprintf(stderr, "# fuzz: thread %d, its last %ld operations (map: index; sizes in pages or bytes as for the call):\n",
		t->id, t->ops - first);
	for (long n = first; n < t->ops; n++) {
		const struct fz_trace *tr = &t->trace[n % FZ_TRACE];

		fprintf(stderr, "#   %6ld %-14s %ld %ld %ld %ld -> %ld\n", n,
			fz_op_name[tr->op], tr->a, tr->b, tr->c, tr->d, tr->ret);
	}
}

/* What the operations whose outcome the model leaves open came to. */
static void fz_print_outcomes(const struct fz_thread *threads, int n)
{
	long sends = 0, bytes = 0, mapped = 0, reads = 0, writes = 0, late = 0;
	long vs[3] = { 0 };

	for (int i = 0; i < n; i++) {
		sends += threads[i].zc_sends;
		bytes += threads[i].zc_bytes;
		mapped += threads[i].zc_mapped;
		reads += threads[i].dio_reads;
		writes += threads[i].dio_writes;
		late += threads[i].dio_in_flight;
		for (int k = 0; k < 3; k++)
			vs[k] += threads[i].vs_pages[k];
	}
	fprintf(stderr, "# fuzz: tcp-zc-send: %ld sends of %ld bytes, %ld bytes of them mapped by TCP_ZEROCOPY_RECEIVE\n",
		sends, bytes, mapped);
	fprintf(stderr, "# fuzz: direct-aio: %ld O_DIRECT reads and %ld writes completed, %ld still in flight after the zap or load%s\n",
		reads, writes, late,
		fz.weight[OP_DIRECT] ? "" : " (left out, or no " ZIO_EXT4_DIR ")");
	fprintf(stderr, "# fuzz: vmsplice-write: the pipe read %ld pages the write left alone, %ld as at the vmsplice, %ld as at the read\n",
		vs[0], vs[1], vs[2]);
}

static long fz_env(const char *name, long dflt)
{
	const char *s = getenv(name);

	return s ? strtol(s, NULL, 0) : dflt;
}

/*
 * The weights, less the operations ZIO_FUZZ_SKIP names (separated by
 * commas or spaces): to see whether the others find something too.
 */
static int fz_set_weights(void)
{
	const char *skip = getenv("ZIO_FUZZ_SKIP");
	char list[256], *name, *save;

	memcpy(fz.weight, fz_op_weight, sizeof(fz.weight));
	if (!skip)
		return 0;
	snprintf(list, sizeof(list), "%s", skip);
	for (name = strtok_r(list, ", ", &save); name;
	     name = strtok_r(NULL, ", ", &save)) {
		int op;

		for (op = 0; op < OP_NR && strcmp(name, fz_op_name[op]); op++)
			;
		if (op == OP_NR) {
			fprintf(stderr, "# fuzz: ZIO_FUZZ_SKIP: no operation %s\n", name);
			return -EINVAL;
		}
		fz.weight[op] = 0;
	}
	return 0;
}

static void *fz_anon(size_t pages, size_t ps)
{
	void *p = mmap(NULL, pages * ps, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void fz_close(int *fd)
{
	if (*fd > 0)
		close(*fd);
	*fd = -1;
}

/* Socket buffers as large as the limits let: no send here waits. */
static void fz_big_buffers(int fd)
{
	int size = 4 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/*
 * A connected pair of sockets on 127.0.0.1, @fds[0] the receiver and
 * @fds[1] the sender: TCP (with @mss for TCP_MAXSEG on both, when not 0)
 * or UDP. 0 or -errno.
 */
static int fz_inet_pair(int type, int fds[2], int mss)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	}, b = a;
	socklen_t alen = sizeof(a), blen = sizeof(b);
	int lfd, one = 1, ret = 0;

	fds[0] = -1;
	lfd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	fds[1] = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (lfd < 0 || fds[1] < 0)
		goto fail;
	fz_big_buffers(lfd);
	fz_big_buffers(fds[1]);
	if (mss && (setsockopt(lfd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)) ||
		    setsockopt(fds[1], IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss))))
		goto fail;
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen))
		goto fail;
	if (type == SOCK_STREAM) {
		if (listen(lfd, 1) ||
		    connect(fds[1], (struct sockaddr *)&a, sizeof(a)))
			goto fail;
		fds[0] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fds[0] < 0 ||
		    setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
			goto fail;
		close(lfd);
		return 0;
	}
	if (bind(fds[1], (struct sockaddr *)&b, sizeof(b)) ||
	    getsockname(fds[1], (struct sockaddr *)&b, &blen) ||
	    connect(lfd, (struct sockaddr *)&b, sizeof(b)) ||
	    connect(fds[1], (struct sockaddr *)&a, sizeof(a)))
		goto fail;
	fds[0] = lfd;
	return 0;
fail:
	ret = -errno;
	if (lfd >= 0)
		close(lfd);
	fz_close(&fds[0]);
	fz_close(&fds[1]);
	return ret;
}

/*
 * OP_DIRECT's file, unlinked at once, with known bytes in every block (so
 * that the I/O of the fuzz overwrites blocks in place, in flight for a
 * while), and an AIO context: 0 or -errno.
 */
static int fz_direct_setup(struct fz_thread *t)
{
	size_t len = FZ_DIO_PAGES * t->ps;
	char path[64];

	snprintf(path, sizeof(path), ZIO_EXT4_DIR "/surface_fuzz.%d.%d",
		 getpid(), t->id);
	t->dfd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
	if (t->dfd < 0)
		return -errno;
	unlink(path);
	zio_fill(t->dmodel, len, 0xd10 + t->id);
	if (pwrite(t->dfd, t->dmodel, len, 0) != (ssize_t)len || fsync(t->dfd))
		return errno ? -errno : -EIO;
	return syscall(SYS_io_setup, 4, &t->aio) ? -errno : 0;
}

/* A connection of OP_RECV's @kind: 0 or -errno. */
static int fz_sock_pair(unsigned int kind, int fds[2])
{
	switch (kind) {
	case 0:
		return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) ? -errno : 0;
	case 1:
		return socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) ? -errno : 0;
	case 2:
		return fz_inet_pair(SOCK_DGRAM, fds, 0);
	default:
		return fz_inet_pair(SOCK_STREAM, fds, 0);
	}
}

FIXTURE(fuzz) {
	int zfd, nthreads, other_fd;
	char *other;
	size_t ps;
	struct fz_thread threads[FZ_MAX_THREADS];
};

FIXTURE_SETUP(fuzz)
{
	bool direct;

	self->ps = zio_page_size();
	self->zfd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->zfd);
	self->nthreads = fz_env("ZIO_FUZZ_THREADS", 3);
	ASSERT_LE(1, self->nthreads);
	ASSERT_GE(FZ_MAX_THREADS, self->nthreads);
	/* Another open: its mappings are no buffers for this one's ioctls. */
	self->other_fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->other_fd);
	self->other = zio_map(self->other_fd, FZ_MAX_THREADS * self->ps, 0);
	ASSERT_NE(MAP_FAILED, self->other);
	ASSERT_EQ(0, fz_set_weights());
	/* O_DIRECT needs a disk: the one make check mounts on /mnt/ext4. */
	direct = zio_ext4_mounted();
	if (!direct)
		fz.weight[OP_DIRECT] = 0;
	fz.seconds = fz_env("ZIO_FUZZ_SECONDS", 3);
	fz.max_ops = fz_env("ZIO_FUZZ_OPS", 0);
	for (int i = 0; i < self->nthreads; i++) {
		struct fz_thread *t = &self->threads[i];

		*t = (struct fz_thread){
			.id = i, .zfd = self->zfd, .ps = self->ps,
			.rng = zio_seed() ^ (0x66757a7aULL * (i + 1)),
			.base = (size_t)i * FZ_PART,
			.foreign = self->other + i * self->ps,
		};
		t->shadow = mmap(NULL, FZ_PART * self->ps, PROT_RW,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, t->shadow);
		t->scratch = mmap(NULL, FZ_MAP_PAGES * self->ps, PROT_RW,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, t->scratch);
		t->report = mmap(NULL, sizeof(*t->report), PROT_RW,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, t->report);
		t->memfd = memfd_create("zio-fuzz", MFD_CLOEXEC);
		ASSERT_LE(0, t->memfd);
		ASSERT_EQ(0, pipe2(t->pipe, O_CLOEXEC));
		ASSERT_EQ(0, pipe2(t->vpipe, O_CLOEXEC));
		for (int k = 0; k < FZ_SOCK_KINDS; k++)
			for (int j = 0; j < 2; j++)
				ASSERT_EQ(0, fz_sock_pair(k, t->rsock[k][j]));
		t->payload = fz_anon(FZ_MAP_PAGES + 2, self->ps);
		t->twin = fz_anon(FZ_MAP_PAGES, self->ps);
		t->rest[0] = fz_anon(FZ_MAP_PAGES + 2, self->ps);
		t->rest[1] = fz_anon(FZ_MAP_PAGES + 2, self->ps);
		ASSERT_TRUE(t->payload && t->twin && t->rest[0] && t->rest[1]);
		ASSERT_EQ(0, fz_inet_pair(SOCK_STREAM, t->zc_sock, self->ps + 12));
		t->zc_want = fz_anon(FZ_MAP_PAGES, self->ps);
		t->sent = fz_anon(FZ_MAP_PAGES, self->ps);
		ASSERT_TRUE(t->zc_want && t->sent);
		t->dfd = -1;
		t->dmodel = fz_anon(FZ_DIO_PAGES, self->ps);
		ASSERT_NE(NULL, t->dmodel);
		if (direct)
			ASSERT_EQ(0, fz_direct_setup(t));
		ASSERT_EQ(0, pipe2(t->spipe, O_CLOEXEC));
		t->vs_old = fz_anon(FZ_MAP_PAGES, self->ps);
		ASSERT_NE(NULL, t->vs_old);
	}
}

FIXTURE_TEARDOWN(fuzz)
{
	for (int i = 0; i < self->nthreads; i++) {
		struct fz_thread *t = &self->threads[i];

		for (int j = 0; j < FZ_MAPS; j++)
			if (t->maps[j].addr)
				munmap(t->maps[j].addr, t->maps[j].pages * self->ps);
		munmap(t->shadow, FZ_PART * self->ps);
		munmap(t->scratch, FZ_MAP_PAGES * self->ps);
		munmap(t->report, sizeof(*t->report));
		close(t->memfd);
		close(t->pipe[0]);
		close(t->pipe[1]);
		close(t->vpipe[0]);
		close(t->vpipe[1]);
		for (int k = 0; k < FZ_SOCK_KINDS; k++)
			for (int j = 0; j < 2; j++) {
				fz_close(&t->rsock[k][j][0]);
				fz_close(&t->rsock[k][j][1]);
			}
		munmap(t->payload, (FZ_MAP_PAGES + 2) * self->ps);
		munmap(t->twin, FZ_MAP_PAGES * self->ps);
		munmap(t->rest[0], (FZ_MAP_PAGES + 2) * self->ps);
		munmap(t->rest[1], (FZ_MAP_PAGES + 2) * self->ps);
		if (t->zc_area)
			munmap(t->zc_area, FZ_MAP_PAGES * self->ps);
		fz_close(&t->zc_sock[0]);
		fz_close(&t->zc_sock[1]);
		munmap(t->zc_want, FZ_MAP_PAGES * self->ps);
		munmap(t->sent, FZ_MAP_PAGES * self->ps);
		if (t->aio)
			syscall(SYS_io_destroy, t->aio);
		fz_close(&t->dfd);
		munmap(t->dmodel, FZ_DIO_PAGES * self->ps);
		fz_close(&t->spipe[0]);
		fz_close(&t->spipe[1]);
		munmap(t->vs_old, FZ_MAP_PAGES * self->ps);
	}
	munmap(self->other, FZ_MAX_THREADS * self->ps);
	close(self->other_fd);
	close(self->zfd);
}

TEST_F_TIMEOUT(fuzz, threads, 1800)
{
	long total[OP_NR] = { 0 }, ops = 0;
	struct timespec t0, t1;
	struct zio_counters c;
	int failed = 0;

	fprintf(stderr, "# fuzz: ZIO_SEED=0x%llx, %d threads, %s %ld\n",
		(unsigned long long)zio_seed(), self->nthreads,
		fz.max_ops ? "operations per thread" : "seconds",
		fz.max_ops ? fz.max_ops : (long)fz.seconds);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	atomic_store(&fz.stop, false);
	for (int i = 0; i < self->nthreads; i++)
		ASSERT_EQ(0, pthread_create(&self->threads[i].thread, NULL, fz_run,
					    &self->threads[i]));
	if (!fz.max_ops) {
		sleep(fz.seconds);
		atomic_store(&fz.stop, true);
	}
	for (int i = 0; i < self->nthreads; i++) {
		struct fz_thread *t = &self->threads[i];

		ASSERT_EQ(0, pthread_join(t->thread, NULL));
		ops += t->ops;
		for (int op = 0; op < OP_NR; op++)
			total[op] += t->count[op];
		if (t->failed) {
			fprintf(stderr, "# fuzz: thread %d failed at operation %ld: %s\n",
				i, t->ops - 1, t->why);
			fz_print_trace(t);
			failed++;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "# fuzz: %ld operations in %.1f s:", ops,
		(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (int op = 0; op < OP_NR; op++)
		fprintf(stderr, " %s %ld", fz_op_name[op], total[op]);
	fprintf(stderr, "\n");
	ASSERT_EQ(0, zio_counters(self->zfd, false, &c));
	fz_print_outcomes(self->threads, self->nthreads);
	fprintf(stderr, "# fuzz: the space: faults %llu, copies %llu, cow %llu, materialized %llu, fallback %llu, discards %llu\n",
		c.faults, c.copies, c.pages_cow, c.pages_materialized,
		c.pages_fallback, c.discards);
	EXPECT_EQ(0, failed) {
		TH_LOG("reproduce with ZIO_SEED=0x%llx ZIO_FUZZ_THREADS=%d",
		       (unsigned long long)zio_seed(), self->nthreads);
	}
	/* Every kind of operation ran (in a run of some length). */
	for (int op = 0; op < OP_NR && ops >= 2000; op++) {
		if (!fz.weight[op])
			continue;
		EXPECT_LT(0, total[op]) {
			TH_LOG("no %s at all", fz_op_name[op]);
		}
	}
}

/*
 * A negative control: thread 0 alone, with @sabotage, must find a
 * difference and report it. It draws the operations of the first fuzzer
 * and @op (none: OP_NR), so that what it finds is the wrong model, not
 * a bug another operation finds in the module.
 */
static void fz_wrong_model(struct __test_metadata *_metadata,
			   struct fz_thread *t, enum fz_op op,
			   enum fz_sabotage sabotage, const char *what)
{
	for (int i = OP_RECV; i < OP_NR; i++)
		if (i != (int)op)
			fz.weight[i] = 0;
	if (op != OP_NR && !fz.weight[op])
		SKIP(return, "%s is left out (ZIO_FUZZ_SKIP, or no " ZIO_EXT4_DIR ")",
		     fz_op_name[op]);
	fz.max_ops = 3000;
	fz.sabotage = sabotage;
	fz_run(t);
	fz.sabotage = FZ_SAB_NONE;
	fprintf(stderr, "# fuzz: with a wrong model (%s): %s after %ld operations\n",
		what, t->failed ? t->why : "nothing found", t->ops);
	ASSERT_TRUE(t->failed);
	EXPECT_NE(NULL, strstr(t->why, "expected"));
}

/* The negative control: the model forgets what a discard does. */
TEST_F_TIMEOUT(fuzz, wrong_model_is_caught, 600)
{
	fz_wrong_model(_metadata, &self->threads[0], OP_NR, FZ_SAB_DISCARD,
		       "it forgets discards");
}

/* The model's twin connection gets one byte more than zio's. */
TEST_F_TIMEOUT(fuzz, wrong_recv_model_is_caught, 600)
{
	fz_wrong_model(_metadata, &self->threads[0], OP_RECV, FZ_SAB_RECV,
		       "recv-flags' twin gets a byte more");
}

/* The model says the TCP peer gets the bytes at its receive. */
TEST_F_TIMEOUT(fuzz, wrong_tcp_model_is_caught, 600)
{
	fz_wrong_model(_metadata, &self->threads[0], OP_TCP_SEND, FZ_SAB_TCP,
		       "tcp-zc-send's peer gets the bytes at its receive");
}

/* The model says an O_DIRECT read leaves the buffer as it was. */
TEST_F_TIMEOUT(fuzz, wrong_direct_model_is_caught, 600)
{
	fz_wrong_model(_metadata, &self->threads[0], OP_DIRECT, FZ_SAB_DIRECT,
		       "direct-aio's reads leave the buffer alone");
}

/* The model says a pipe reads whatever was written after the vmsplice. */
TEST_F_TIMEOUT(fuzz, wrong_vmsplice_model_is_caught, 600)
{
	fz_wrong_model(_metadata, &self->threads[0], OP_VMSPLICE_WRITE,
		       FZ_SAB_VMSPLICE, "vmsplice-write's pipe reads every write");
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN

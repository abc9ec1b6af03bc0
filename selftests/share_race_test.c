// SPDX-License-Identifier: GPL-2.0
/*
 * A copy must not share a source page that something outside zio can
 * still write. What this proves: once ZIO_IOC_COPY has returned, the
 * destination never changes unless the program writes the destination,
 * whatever other threads do to the source meanwhile: O_DIRECT reads of a
 * file on ext4 into it (skipped when /mnt/ext4 is not mounted), or
 * process_vm_writev() into it.
 *
 * A whole, aligned destination page shares its source page unless the
 * page has references zio cannot account for (then it gets a copy). That
 * check is good only once no writable PTE maps the source page: through
 * one, get_user_pages() can take a reference after the check, and write
 * the page, which the destination now shares, after the copy returned.
 * The module before commit eb01285 ("slot, io, copy, fork: no live view
 * of zio pages, no orphaned DMA, no lost store") checked, shared, and
 * zapped the source only at the end of the copy: the negative control.
 *
 * Every round stores into each source page (so that each is mapped
 * writable), copies the source to the destination while other threads
 * write the source, snapshots the destination as soon as the copy
 * returns, waits until every write in flight then is over, and compares
 * the destination with the snapshot. Two ways to write the source:
 *
 * - in_window: one write per round, aimed at the window. A thread waits
 *   until the module's counters show the first pages of the copy shared
 *   (pages_shared, counted under the xarray lock the copy shares them
 *   under), then writes those pages through a "gate", a page that
 *   userfaultfd holds missing until the snapshot is taken: an O_DIRECT
 *   read into the pages and then the gate (get_user_pages() takes the
 *   pages, then waits at the gate; the read reaches the device after),
 *   or a process_vm_writev() into the pages from the gate and then other
 *   bytes (it pins the pages, then waits reading the gate). Either way
 *   the write holds its references to the source pages while it waits,
 *   so its bytes land after the copy returned whenever it took them while
 *   the copy ran. (Skipped without userfaultfd.) The write must also be
 *   found in the source, whole: none of it went to a page that the
 *   source no longer holds.
 * - at_random: two threads keep writing random runs of source pages, one
 *   with O_DIRECT reads (when /mnt/ext4 is there), one with
 *   process_vm_writev(), as a program would; the window is hit only by
 *   chance.
 *
 * Each test runs for a few seconds and logs its counts. Every test ends
 * with the module's page counters at zero.
 */
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "zio_test.h"

#define SRC_PAGES	512
#define RUN_PAGES	16		/* pages one write covers */
#define FILE_PAGES	1024
#define RUN_SECONDS	3		/* and at least MIN_ROUNDS */
#define MIN_ROUNDS	10
#define MAX_ROUNDS	100000
#define MAX_WRITERS	2
#define FILE_SALT	60
#define BUF_SALT	70

enum writer_kind { WRITE_O_DIRECT, WRITE_PROCESS_VM };

struct writer {
	pthread_t thread;
	bool started;
	enum writer_kind kind;
	int zfd, file;
	char *src;
	char *buf;		/* process_vm_writev: RUN_PAGES of what it writes */
	char *gate;		/* in_window: the page userfaultfd holds */
	size_t ps;
	uint64_t rng;
	atomic_bool *stop;
	/* in_window: the round the main thread copies in, and its end */
	atomic_long go, copied;
	/* writes begun and over (at_random), or the last round done */
	atomic_ulong begun, done;
	long aimed;		/* in_window: writes begun while the copy ran */
	long errors;
	int first_errno;
};

FIXTURE(share_race) {
	int fd, file, uffd;
	size_t ps, len;
	char *src, *dst;	/* one mapping: the source, then the destination */
	char *snap;		/* anonymous */
	char *gate;		/* anonymous, one page */
	atomic_bool stop;
	int nr_writers;
	struct writer w[MAX_WRITERS];
};

FIXTURE_SETUP(share_race)
{
	self->ps = zio_page_size();
	self->len = SRC_PAGES * self->ps;
	self->file = -1;
	self->uffd = -1;
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->src = zio_map(self->fd, 2 * self->len, 0);
	ASSERT_NE(MAP_FAILED, self->src);
	self->dst = self->src + self->len;
	self->snap = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->snap);
	self->gate = mmap(NULL, self->ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->gate);
}

static void stop_writers(FIXTURE_DATA(share_race) *self)
{
	atomic_store(&self->stop, true);
	/* Closing the userfaultfd lets a write held at the gate go on. */
	if (self->uffd >= 0)
		close(self->uffd);
	self->uffd = -1;
	for (int i = 0; i < self->nr_writers; i++) {
		if (self->w[i].started)
			pthread_join(self->w[i].thread, NULL);
		self->w[i].started = false;
	}
}

FIXTURE_TEARDOWN(share_race)
{
	struct zio_counters c;

	stop_writers(self);
	for (int i = 0; i < self->nr_writers; i++)
		if (self->w[i].buf)
			munmap(self->w[i].buf, RUN_PAGES * self->ps);
	if (self->file >= 0)
		close(self->file);
	if (self->gate != MAP_FAILED)
		munmap(self->gate, self->ps);
	if (self->snap != MAP_FAILED)
		munmap(self->snap, self->len);
	if (self->src != MAP_FAILED)
		munmap(self->src, 2 * self->len);
	close(self->fd);
	/* Nothing of this test is left in the module. */
	ASSERT_EQ(0, zio_global_counters(&c));
	EXPECT_EQ(0, c.pages_live);
	EXPECT_EQ(0, c.pages_pending);
	EXPECT_EQ(0, c.pages_shared);
}

/*
 * A userfaultfd that holds @gate missing: a fault there, by the thread
 * itself or by get_user_pages() on its behalf, waits until gate_open().
 * The descriptor, or -errno.
 */
static int gate_init(char *gate, size_t ps)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)gate, .len = ps },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* Map the zero page at the gate, and wake whoever waits there. */
static int gate_open(int uffd, char *gate, size_t ps)
{
	struct uffdio_zeropage z = {
		.range = { .start = (uintptr_t)gate, .len = ps },
	};

	if (ioctl(uffd, UFFDIO_ZEROPAGE, &z) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Write RUN_PAGES source pages from @page: an O_DIRECT read from page
 * @fpage of the file (the pattern depends on the position, so each read
 * brings other bytes), or process_vm_writev() of w->buf with @stamp in
 * the first word of each page. Through w->gate when there is one: the
 * read goes on into the gate after the source pages; process_vm_writev()
 * writes the gate's page first, then RUN_PAGES - 1 pages of w->buf.
 * Whether it all went.
 */
static bool writer_write(struct writer *w, size_t page, size_t fpage,
			 uint64_t stamp)
{
	size_t ps = w->ps, len = RUN_PAGES * ps, want = len;
	char *to = w->src + page * ps;
	struct iovec iov[2];
	ssize_t got;
	int n = 0;

	if (w->kind == WRITE_PROCESS_VM) {
		struct iovec remote = { .iov_base = to, .iov_len = len };

		for (size_t i = 0; i < RUN_PAGES; i++)
			*(uint64_t *)(w->buf + i * ps) = stamp;
		/* From the gate first: the pins are taken, then the copy waits. */
		if (w->gate)
			iov[n++] = (struct iovec){ .iov_base = w->gate, .iov_len = ps };
		iov[n] = (struct iovec){ .iov_base = w->buf, .iov_len = len - n * ps };
		got = process_vm_writev(getpid(), iov, n + 1, &remote, 1, 0);
	} else {
		iov[n++] = (struct iovec){ .iov_base = to, .iov_len = len };
		if (w->gate) {
			iov[n++] = (struct iovec){ .iov_base = w->gate, .iov_len = ps };
			want += ps;
		}
		got = preadv(w->file, iov, n, fpage * ps);
	}
	if (got == (ssize_t)want)
		return true;
	if (!w->errors++)
		w->first_errno = got < 0 ? errno : 0;
	return false;
}

/* at_random: write random runs of source pages until told to stop. */
static void *random_writer(void *arg)
{
	struct writer *w = arg;
	unsigned long n = 0;

	while (!atomic_load(w->stop)) {
		size_t page = zio_rand(&w->rng) % (SRC_PAGES - RUN_PAGES + 1);
		size_t fpage = zio_rand(&w->rng) % (FILE_PAGES - RUN_PAGES + 1);

		atomic_store(&w->begun, ++n);
		writer_write(w, page, fpage, n);
		atomic_store(&w->done, n);
	}
	return NULL;
}

/* in_window: the page of the file the read of @round starts at. */
static size_t window_fpage(long round)
{
	return round % (FILE_PAGES - RUN_PAGES);
}

/*
 * in_window: in each round, wait for the copy to have shared the first
 * RUN_PAGES source pages, then write them through the gate.
 */
static void *window_writer(void *arg)
{
	struct writer *w = arg;
	long round = 0;

	for (;;) {
		struct zio_counters c;

		while (atomic_load(&w->go) <= round && !atomic_load(w->stop))
			sched_yield();
		if (atomic_load(w->stop))
			break;
		round = atomic_load(&w->go);
		do {
			if (zio_counters(w->zfd, false, &c))
				break;
		} while (c.pages_shared < 2 * RUN_PAGES &&
			 atomic_load(&w->copied) < round && !atomic_load(w->stop));
		if (atomic_load(&w->copied) < round)
			w->aimed++;
		writer_write(w, 0, window_fpage(round), round);
		atomic_store(&w->done, round);
	}
	return NULL;
}

static int start_writers(FIXTURE_DATA(share_race) *self,
			 const enum writer_kind *kinds, int n, bool gated)
{
	for (int i = 0; i < n; i++) {
		struct writer *w = &self->w[i];

		w->kind = kinds[i];
		w->zfd = self->fd;
		w->file = self->file;
		w->src = self->src;
		w->gate = gated ? self->gate : NULL;
		w->ps = self->ps;
		w->rng = zio_seed() + 1000 * (i + 1);
		w->stop = &self->stop;
		if (w->kind == WRITE_PROCESS_VM) {
			w->buf = mmap(NULL, RUN_PAGES * self->ps, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (w->buf == MAP_FAILED) {
				w->buf = NULL;
				return -1;
			}
			zio_fill(w->buf, RUN_PAGES * self->ps, BUF_SALT + i);
		}
		self->nr_writers = i + 1;
		if (pthread_create(&w->thread, NULL, gated ? window_writer : random_writer, w))
			return -1;
		w->started = true;
	}
	return 0;
}

/* Wait until every write the random writers began before now is over. */
static void random_writers_quiesce(FIXTURE_DATA(share_race) *self)
{
	for (int i = 0; i < self->nr_writers; i++) {
		struct writer *w = &self->w[i];
		unsigned long begun = atomic_load(&w->begun);

		while (atomic_load(&w->done) < begun)
			sched_yield();
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct zio_counters own_counters(FIXTURE_DATA(share_race) *self)
{
	struct zio_counters c = { 0 };

	zio_counters(self->fd, false, &c);
	return c;
}

/* The destination pages that differ from the snapshot; the first in @first. */
static long changed_pages(FIXTURE_DATA(share_race) *self, long *first)
{
	size_t ps = self->ps;
	long n = 0;

	*first = -1;
	for (size_t i = 0; i < SRC_PAGES; i++) {
		if (!memcmp(self->dst + i * ps, self->snap + i * ps, ps))
			continue;
		if (*first < 0)
			*first = i;
		n++;
	}
	return n;
}

/*
 * in_window: whether the write of @round is in the source, all of it: no
 * byte went to a page that the source no longer holds.
 */
static bool window_write_landed(FIXTURE_DATA(share_race) *self, long round)
{
	struct writer *w = &self->w[0];
	size_t ps = self->ps;

	if (w->kind == WRITE_O_DIRECT)
		return zio_check_at(self->src, window_fpage(round) * ps,
				    RUN_PAGES * ps, FILE_SALT);
	/* process_vm_writev(): the gate's zero page, then the buffer. */
	return zio_nonzero(self->src, ps) < 0 &&
	       !memcmp(self->src + ps, w->buf, (RUN_PAGES - 1) * ps);
}

static void run(struct __test_metadata *_metadata,
		FIXTURE_DATA(share_race) *self,
		const enum writer_kind *kinds, int nr_writers, bool gated)
{
	size_t ps = self->ps, len = self->len;
	long rounds, bad_rounds = 0, changed_total = 0, failed_copies = 0;
	long first_round = -1, first_page = -1, writes = 0, errors = 0;
	long aimed = 0, lost = 0;
	struct zio_counters before, after;
	int first_errno = 0;
	double end;

	if (gated) {
		self->uffd = gate_init(self->gate, ps);
		if (self->uffd < 0)
			SKIP(return, "no userfaultfd: %s", strerror(-self->uffd));
	}
	before = own_counters(self);
	ASSERT_EQ(0, start_writers(self, kinds, nr_writers, gated));

	end = now_s() + RUN_SECONDS;
	for (rounds = 0; rounds < MAX_ROUNDS &&
	     (rounds < MIN_ROUNDS || now_s() < end); rounds++) {
		long changed, first;

		/* Every source page mapped writable, with a mark of the round. */
		for (size_t i = 0; i < SRC_PAGES; i++)
			*(uint64_t *)(self->src + i * ps) =
				0x5348415245000000ULL | (uint64_t)rounds << 12 | i;

		if (gated)
			atomic_store(&self->w[0].go, rounds + 1);
		if (zio_copy(self->fd, self->dst, self->src, len, NULL))
			failed_copies++;
		if (gated)
			atomic_store(&self->w[0].copied, rounds + 1);
		memcpy(self->snap, self->dst, len);

		/* Now the writes in flight may go on, and end. */
		if (gated) {
			ASSERT_EQ(0, gate_open(self->uffd, self->gate, ps));
			while (atomic_load(&self->w[0].done) < (unsigned long)rounds + 1)
				sched_yield();
		} else {
			random_writers_quiesce(self);
		}

		changed = changed_pages(self, &first);
		if (changed && first_round < 0) {
			first_round = rounds;
			first_page = first;
		}
		changed_total += changed;
		bad_rounds += !!changed;
		if (gated) {
			lost += !window_write_landed(self, rounds + 1);
			/* The gate closed again, for the next round. */
			ASSERT_EQ(0, madvise(self->gate, ps, MADV_DONTNEED));
		}
	}
	stop_writers(self);
	after = own_counters(self);

	for (int i = 0; i < nr_writers; i++) {
		writes += atomic_load(&self->w[i].done);
		aimed += self->w[i].aimed;
		errors += self->w[i].errors;
		if (!first_errno)
			first_errno = self->w[i].first_errno;
	}
	if (gated)
		TH_LOG("%ld rounds of a copy of %d pages; %ld writes of %d pages begun while the copy ran; %llu pages copied for references from outside",
		       rounds, SRC_PAGES, aimed, RUN_PAGES,
		       (unsigned long long)(after.pages_fallback - before.pages_fallback));
	else
		TH_LOG("%ld rounds of a copy of %d pages; %ld writes of %d pages; %llu pages copied for references from outside",
		       rounds, SRC_PAGES, writes, RUN_PAGES,
		       (unsigned long long)(after.pages_fallback - before.pages_fallback));
	EXPECT_EQ(0, changed_total) {
		TH_LOG("the destination changed after the copy returned: %ld pages in %ld of %ld rounds (first: round %ld, page %ld)",
		       changed_total, bad_rounds, rounds, first_round, first_page);
	}
	EXPECT_EQ(0, lost) {
		TH_LOG("in %ld of %ld rounds the source lacks what was written into it",
		       lost, rounds);
	}
	EXPECT_EQ(0, failed_copies);
	EXPECT_EQ(0, errors) {
		TH_LOG("%ld writes failed or were short (first: %s)", errors,
		       strerror(first_errno));
	}
	/* Enough to have raced at all. */
	if (gated) {
		EXPECT_LE(rounds / 2, aimed);
	} else {
		EXPECT_LE(rounds, writes);
	}
}

static const enum writer_kind o_direct[] = { WRITE_O_DIRECT };
static const enum writer_kind process_vm[] = { WRITE_PROCESS_VM };
static const enum writer_kind both[] = { WRITE_O_DIRECT, WRITE_PROCESS_VM };

TEST_F_TIMEOUT(share_race, o_direct_read_in_window, 120)
{
	if (!zio_ext4_mounted())
		SKIP(return, ZIO_EXT4_DIR " is not mounted");
	self->file = zio_direct_file("share_race_test", FILE_PAGES * self->ps, FILE_SALT);
	ASSERT_LE(0, self->file) TH_LOG("the O_DIRECT file: %s", strerror(-self->file));
	run(_metadata, self, o_direct, 1, true);
}

TEST_F_TIMEOUT(share_race, process_vm_writev_in_window, 120)
{
	run(_metadata, self, process_vm, 1, true);
}

TEST_F_TIMEOUT(share_race, writes_at_random, 120)
{
	const enum writer_kind *kinds = both;
	int n = 2;

	if (zio_ext4_mounted()) {
		self->file = zio_direct_file("share_race_test", FILE_PAGES * self->ps,
					     FILE_SALT);
		ASSERT_LE(0, self->file) TH_LOG("the O_DIRECT file: %s",
						strerror(-self->file));
	} else {
		/* process_vm_writev() only */
		kinds = process_vm;
		n = 1;
	}
	run(_metadata, self, kinds, n, false);
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN

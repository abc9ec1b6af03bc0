// SPDX-License-Identifier: GPL-2.0
/*
 * Pages that something outside zio holds: a pipe (vmsplice), an O_DIRECT
 * read in flight, an ioctl blocked in a read. What this proves:
 *
 * - A page that one slot holds is written in place even when others hold
 *   references to it, as the core mm does for an exclusive anonymous page
 *   that is pinned: after MADV_DONTNEED (zio mappings are shared file
 *   mappings, the data stays), a fork, or a partial-page ZIO_IOC_COPY or
 *   ZIO_IOC_READ into it, a pipe that holds the page reads the new bytes,
 *   an O_DIRECT read lands in the page the program sees, and no store of a
 *   thread writing the page meanwhile is lost. A copy of such a page would
 *   leave the holder with an orphan.
 * - Such a page is never shared: a fork or a ZIO_IOC_COPY from it gives
 *   the other side a private copy at once.
 * - An ioctl acts only on slots that are still mapped: a ZIO_IOC_READ that
 *   blocked while its buffer was unmapped returns -EFAULT, as read() into
 *   an unmapped buffer does, and installs nothing.
 * - A fork child whose snapshot failed (a "broken" space) gets SIGBUS on
 *   every fault, and -EIO from every ioctl on that space; the parent is
 *   unaffected. Needs the module parameter debug_fork_fail_after (skipped
 *   without it).
 *
 * Every test ends with the module's page counters back to zero.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "zio_test.h"

#define NPAGES		64

FIXTURE(holders) {
	int fd;
	size_t ps, len;
	char *map;
	int pipe[2];
	pid_t child;
	long long saved_fail_after;
};

FIXTURE_SETUP(holders)
{
	self->ps = zio_page_size();
	self->len = NPAGES * self->ps;
	self->pipe[0] = -1;
	self->pipe[1] = -1;
	self->saved_fail_after = -1;
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	ASSERT_EQ(0, pipe(self->pipe));
}

FIXTURE_TEARDOWN(holders)
{
	struct zio_counters c;

	if (self->saved_fail_after >= 0)
		zio_param_set("debug_fork_fail_after", self->saved_fail_after);
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->len);
	if (self->pipe[0] >= 0)
		close(self->pipe[0]);
	if (self->pipe[1] >= 0)
		close(self->pipe[1]);
	close(self->fd);
	/* Nothing of this test is left in the module. */
	ASSERT_EQ(0, zio_global_counters(&c));
	EXPECT_EQ(0, c.pages_live);
	EXPECT_EQ(0, c.pages_pending);
	EXPECT_EQ(0, c.pages_shared);
}

/* Give @len bytes at @addr to the pipe by reference: 0 or -errno. */
static int splice_in(int pipe_wr, void *addr, size_t len)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };
	ssize_t n = vmsplice(pipe_wr, &iov, 1, 0);

	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

/* Read exactly @len bytes: 0, or -1. */
static int read_exact(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

/* ZIO_IOC_WRITE or ZIO_IOC_READ at the file position: the result, or -errno. */
static long zio_io(int zfd, unsigned long cmd, int fd, void *addr, size_t len)
{
	struct zio_io io = {
		.fd = fd, .addr = (uintptr_t)addr, .len = len,
		.offset = ZIO_IO_FILE_POS,
	};
	long ret = ioctl(zfd, cmd, &io);

	return ret < 0 ? -errno : ret;
}

static struct zio_counters own_counters(FIXTURE_DATA(holders) *self)
{
	struct zio_counters c = { 0 };

	zio_counters(self->fd, false, &c);
	return c;
}

/*
 * What a holder of a page reads, against what it should: "new" (right),
 * "old" (the bytes before the change: zio copied the page and the holder
 * kept the orphan) or "other".
 */
static const char *which(const char *seen, const char *new, const char *old,
			 size_t len)
{
	if (!memcmp(seen, new, len))
		return "new";
	if (old && !memcmp(seen, old, len))
		return "old";
	return "other";
}

/*
 * 1. vmsplice, MADV_DONTNEED, store: the pipe's page is the slot's page,
 * so the pipe reads what was stored, and nothing was copied.
 */
TEST_F(holders, vmsplice_dontneed_then_store)
{
	size_t ps = self->ps;
	char *page = self->map + 2 * ps;
	char *got = malloc(ps), *a = malloc(ps), *b = malloc(ps);
	struct zio_counters before, after;

	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	zio_fill(a, ps, 1);
	zio_fill(b, ps, 2);
	memcpy(page, a, ps);
	ASSERT_EQ(0, splice_in(self->pipe[1], page, ps));
	ASSERT_EQ(0, madvise(page, ps, MADV_DONTNEED));
	/* The data stays: a shared file mapping. */
	ASSERT_EQ(0, memcmp(page, a, ps));
	ASSERT_EQ(0, madvise(page, ps, MADV_DONTNEED));

	before = own_counters(self);
	memcpy(page, b, ps);
	after = own_counters(self);
	ASSERT_EQ(0, read_exact(self->pipe[0], got, ps));
	EXPECT_EQ(0, memcmp(got, b, ps)) {
		TH_LOG("the pipe read the %s bytes, not the ones stored after MADV_DONTNEED",
		       which(got, b, a, ps));
	}
	EXPECT_EQ(before.pages_cow, after.pages_cow) {
		TH_LOG("the store copied the page (pages_cow %llu -> %llu)",
		       (unsigned long long)before.pages_cow,
		       (unsigned long long)after.pages_cow);
	}
	EXPECT_EQ(0, memcmp(page, b, ps));
	free(got);
	free(a);
	free(b);
}

/*
 * 2a. vmsplice, then a ZIO_IOC_COPY of a few bytes into the page: the
 * kernel writes the page in place, and the pipe reads the copied bytes.
 */
TEST_F(holders, vmsplice_then_partial_copy)
{
	size_t ps = self->ps;
	char *page = self->map + 4 * ps, *src = self->map + 6 * ps;
	char *got = malloc(ps), *want = malloc(ps), *old = malloc(ps);
	struct zio_counters before, after;
	struct zio_copy out;

	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, old);
	zio_fill(page, ps, 3);
	zio_fill(src, ps, 4);
	memcpy(old, page, ps);
	memcpy(want, page, ps);
	memcpy(want + 100, src + 200, 40);

	ASSERT_EQ(0, splice_in(self->pipe[1], page, ps));
	before = own_counters(self);
	ASSERT_EQ(0, zio_copy(self->fd, page + 100, src + 200, 40, &out));
	after = own_counters(self);
	EXPECT_EQ(40, out.bytes_copied);
	EXPECT_EQ(0, out.bytes_deferred);
	ASSERT_EQ(0, memcmp(page, want, ps));
	ASSERT_EQ(0, read_exact(self->pipe[0], got, ps));
	EXPECT_EQ(0, memcmp(got, want, ps)) {
		TH_LOG("the pipe read the %s bytes, not those of the copy into its page",
		       which(got, want, old, ps));
	}
	EXPECT_EQ(before.pages_cow, after.pages_cow);
	/* And the program's page is still the pipe's: a store shows too. */
	ASSERT_EQ(0, splice_in(self->pipe[1], page, ps));
	page[7] ^= 0x55;
	want[7] ^= 0x55;
	ASSERT_EQ(0, read_exact(self->pipe[0], got, ps));
	EXPECT_EQ(0, memcmp(got, want, ps));
	free(got);
	free(want);
	free(old);
}

/*
 * 2b. vmsplice, then a ZIO_IOC_READ of a few bytes from another pipe into
 * the page: the pipe holding the page reads them.
 */
TEST_F(holders, vmsplice_then_partial_read)
{
	size_t ps = self->ps;
	char *page = self->map + 8 * ps;
	char *got = malloc(ps), *want = malloc(ps), *old = malloc(ps);
	struct zio_counters before, after;
	char in[40];
	int p2[2];

	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, old);
	ASSERT_EQ(0, pipe(p2));
	zio_fill(page, ps, 5);
	zio_fill(in, sizeof(in), 6);
	memcpy(old, page, ps);
	memcpy(want, page, ps);
	memcpy(want + 1000, in, sizeof(in));
	ASSERT_EQ((ssize_t)sizeof(in), write(p2[1], in, sizeof(in)));

	ASSERT_EQ(0, splice_in(self->pipe[1], page, ps));
	before = own_counters(self);
	EXPECT_EQ((long)sizeof(in), zio_io(self->fd, ZIO_IOC_READ, p2[0], page + 1000,
					   sizeof(in)));
	after = own_counters(self);
	ASSERT_EQ(0, memcmp(page, want, ps));
	ASSERT_EQ(0, read_exact(self->pipe[0], got, ps));
	EXPECT_EQ(0, memcmp(got, want, ps)) {
		TH_LOG("the pipe read the %s bytes, not those ZIO_IOC_READ put in its page",
		       which(got, want, old, ps));
	}
	EXPECT_EQ(before.pages_cow, after.pages_cow);
	close(p2[0]);
	close(p2[1]);
	free(got);
	free(want);
	free(old);
}

/* Wait for the child: its exit status, or 1000 + the signal that killed it. */
static int reap(pid_t *pid)
{
	int status;
	pid_t p = *pid;

	*pid = 0;
	if (waitpid(p, &status, 0) != p)
		return -1;
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

#define CHILD_CHECK(n, cond) do { if (!(cond)) _exit(n); } while (0)

/*
 * 3. fork with a vmsplice'd page: the child gets a private copy at once;
 * the parent keeps the page the pipe holds and writes it in place.
 */
TEST_F(holders, vmsplice_then_fork)
{
	size_t ps = self->ps;
	char *page = self->map + 10 * ps;
	char *got = malloc(ps), *a = malloc(ps), *b = malloc(ps);
	struct zio_counters before, after;
	int to_child[2], to_parent[2];

	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	zio_fill(a, ps, 7);
	zio_fill(b, ps, 8);
	memcpy(page, a, ps);
	ASSERT_EQ(0, splice_in(self->pipe[1], page, ps));

	before = own_counters(self);
	fflush(NULL);
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		zio_wait_for(to_child[0]);
		/* The parent has written its page: the child's is as at fork. */
		CHILD_CHECK(1, !memcmp(page, a, ps));
		page[0] ^= 1;	/* and the child's own write stays its own */
		zio_wake(to_parent[1]);
		_exit(0);
	}
	memcpy(page, b, ps);
	after = own_counters(self);
	zio_wake(to_child[1]);
	zio_wait_for(to_parent[0]);
	EXPECT_EQ(0, reap(&self->child)) {
		TH_LOG("the child did not see the page as it was at fork");
	}
	ASSERT_EQ(0, read_exact(self->pipe[0], got, ps));
	EXPECT_EQ(0, memcmp(got, b, ps)) {
		TH_LOG("the pipe read the %s bytes, not the parent's after fork",
		       which(got, b, a, ps));
	}
	EXPECT_EQ(before.pages_cow, after.pages_cow) {
		TH_LOG("the parent's write after fork copied the page");
	}
	EXPECT_EQ(0, memcmp(page, b, ps));
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	free(got);
	free(a);
	free(b);
}

/*
 * 4. (a guard) ZIO_IOC_COPY from vmsplice'd pages copies them at once
 * (pages_fallback), so the destination keeps the bytes of the copy when
 * the source is written afterwards; the source is written in place (the
 * pipe sees it). @dontneed: the source's PTEs are gone before the copy.
 */
static void copy_from_spliced(struct __test_metadata *_metadata,
			      FIXTURE_DATA(holders) *self, bool dontneed)
{
	size_t ps = self->ps, n = 4 * ps;
	char *src = self->map + 16 * ps, *dst = self->map + 24 * ps;
	char *a = malloc(n), *b = malloc(n), *got = malloc(n);
	struct zio_counters before, after;
	struct zio_copy out;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, got);
	zio_fill(a, n, 9);
	zio_fill(b, n, 10);
	memcpy(src, a, n);
	ASSERT_EQ(0, splice_in(self->pipe[1], src, n));
	if (dontneed)
		ASSERT_EQ(0, madvise(src, n, MADV_DONTNEED));

	before = own_counters(self);
	ASSERT_EQ(0, zio_copy(self->fd, dst, src, n, &out));
	after = own_counters(self);
	EXPECT_EQ(n, out.bytes_copied);
	EXPECT_EQ(0, out.bytes_deferred);
	EXPECT_EQ(before.pages_fallback + 4, after.pages_fallback);
	EXPECT_EQ(0, after.pages_shared);

	memcpy(src, b, n);
	EXPECT_EQ(0, memcmp(dst, a, n)) {
		TH_LOG("the destination changed with its source");
	}
	EXPECT_EQ(0, memcmp(src, b, n));
	ASSERT_EQ(0, read_exact(self->pipe[0], got, n));
	if (!dontneed) {
		/* Mapped writable all along: an ordinary store, in place. */
		EXPECT_EQ(0, memcmp(got, b, n));
	}
	free(a);
	free(b);
	free(got);
}

TEST_F(holders, copy_from_vmspliced_source)
{
	copy_from_spliced(_metadata, self, false);
}

TEST_F(holders, copy_from_vmspliced_unmapped_source)
{
	copy_from_spliced(_metadata, self, true);
}

/*
 * 5. An O_DIRECT read in flight (it pins the pages, then the device fills
 * them) while another thread keeps dropping the buffer's PTEs and storing
 * into the part of each page the read does not cover: the read's bytes
 * must land in the pages the program sees. A race, so several rounds; each
 * round's losses are logged.
 */
#define DIO_PAGES	1024		/* IOV_MAX segments */
#define DIO_HEAD	3584		/* bytes of each page the read fills */
#define DIO_ROUNDS	16
#define DIO_FILE_SALT	50

static uint64_t dio_marker(int round, size_t page)
{
	return 0x484f4c4400000000ULL | ((uint64_t)round << 16) | page;
}

struct dio_toucher {
	char *buf;
	size_t ps;
	int round;
	atomic_bool stop;
	long passes;
};

/*
 * Page by page, from the last (the last the read pins, and the last the
 * device fills): MADV_DONTNEED, then store a marker past the page's head.
 * Then again, until the read is over. Whole-buffer MADV_DONTNEED, or going
 * forward, hit the window far less often under QEMU.
 */
static void *dio_toucher_thread(void *arg)
{
	struct dio_toucher *t = arg;

	do {
		for (size_t i = DIO_PAGES; i-- > 0; ) {
			char *page = t->buf + i * t->ps;

			madvise(page, t->ps, MADV_DONTNEED);
			*(volatile uint64_t *)(page + DIO_HEAD + 8 * t->round) =
				dio_marker(t->round, i);
		}
		t->passes++;
	} while (!atomic_load(&t->stop));
	return NULL;
}

TEST_F_TIMEOUT(holders, o_direct_read_during_dontneed_and_store, 300)
{
	size_t ps = self->ps, len = DIO_PAGES * ps;
	struct iovec *iov = calloc(DIO_PAGES, sizeof(*iov));
	char *buf, *want = malloc(ps);
	long lost_total = 0, bad_tail = 0;
	int file, rounds_lost = 0;

	ASSERT_NE(NULL, iov);
	ASSERT_NE(NULL, want);
	if (!zio_ext4_mounted())
		SKIP(return, ZIO_EXT4_DIR " is not mounted");
	file = zio_direct_file("holders_test", (size_t)DIO_PAGES * DIO_HEAD, DIO_FILE_SALT);
	ASSERT_LE(0, file) TH_LOG("the O_DIRECT file: %s", strerror(-file));
	/* Past the fixture's mapping: slots of its own. */
	buf = zio_map(self->fd, len, 2 * self->len);
	ASSERT_NE(MAP_FAILED, buf);
	for (size_t i = 0; i < DIO_PAGES; i++)
		iov[i] = (struct iovec){ .iov_base = buf + i * ps, .iov_len = DIO_HEAD };

	for (int r = 0; r < DIO_ROUNDS; r++) {
		struct dio_toucher t = { .buf = buf, .ps = ps, .round = r };
		struct zio_counters before, after;
		long lost = 0, first_lost = -1;
		pthread_t thread;
		ssize_t got;

		/* Poison: whatever the device does not write stays so. */
		zio_fill(buf, len, 100 + r);
		before = own_counters(self);
		ASSERT_EQ(0, pthread_create(&thread, NULL, dio_toucher_thread, &t));
		got = preadv(file, iov, DIO_PAGES, 0);
		atomic_store(&t.stop, true);
		ASSERT_EQ(0, pthread_join(thread, NULL));
		after = own_counters(self);
		ASSERT_EQ((ssize_t)DIO_PAGES * DIO_HEAD, got) {
			TH_LOG("preadv: %s", got < 0 ? strerror(errno) : "short");
		}

		for (size_t i = 0; i < DIO_PAGES; i++) {
			zio_fill_at(want, i * DIO_HEAD, DIO_HEAD, DIO_FILE_SALT);
			zio_fill_at(want + DIO_HEAD, i * ps + DIO_HEAD, ps - DIO_HEAD, 100 + r);
			*(uint64_t *)(want + DIO_HEAD + 8 * r) = dio_marker(r, i);
			if (memcmp(buf + i * ps, want, DIO_HEAD)) {
				if (first_lost < 0)
					first_lost = i;
				lost++;
			}
			if (memcmp(buf + i * ps + DIO_HEAD, want + DIO_HEAD, ps - DIO_HEAD))
				bad_tail++;
		}
		TH_LOG("round %d: %ld of %d pages lost the read's bytes (first: %ld); %ld passes, pages_cow +%llu",
		       r, lost, DIO_PAGES, first_lost, t.passes,
		       (unsigned long long)(after.pages_cow - before.pages_cow));
		lost_total += lost;
		rounds_lost += !!lost;
	}
	EXPECT_EQ(0, lost_total) {
		TH_LOG("the O_DIRECT read's bytes were lost in %d of %d rounds",
		       rounds_lost, DIO_ROUNDS);
	}
	EXPECT_EQ(0, bad_tail);
	munmap(buf, len);
	close(file);
	free(iov);
	free(want);
}

/*
 * 6. Lost stores. A thread stores a counter into the first word of a page
 * and reads it back before the next store; the main thread keeps making
 * the module write the page from the kernel while it is mapped writable:
 * vmsplice it into a pipe (an outside reference), then ZIO_IOC_COPY a few
 * bytes into another part of it. Were the module to copy the page, a store
 * landing between its copy and its zap would be lost: the thread would
 * read an older value.
 */
struct store_loop {
	volatile uint64_t *word;
	atomic_bool stop;
	long stores, lost, readback;
	uint64_t lost_seen, lost_expected;
};

static void *store_thread(void *arg)
{
	struct store_loop *s = arg;
	uint64_t n = *s->word;

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		uint64_t v = *s->word;

		if (v != n && !s->lost++) {
			s->lost_seen = v;
			s->lost_expected = n;
		}
		*s->word = ++n;
		if (*s->word != n)
			s->readback++;
		s->stores++;
	}
	return NULL;
}

#define STORE_SECONDS	3

TEST_F_TIMEOUT(holders, no_lost_stores_during_partial_copy, 60)
{
	size_t ps = self->ps;
	char *page = self->map + 32 * ps, *src = self->map + 34 * ps;
	struct store_loop s = { .word = (volatile uint64_t *)page };
	struct zio_counters before, after;
	long copies = 0, failed = 0;
	char drain[16];
	pthread_t thread;
	time_t end;

	zio_fill(page, ps, 11);
	zio_fill(src, ps, 12);
	*s.word = 0;
	before = own_counters(self);
	ASSERT_EQ(0, pthread_create(&thread, NULL, store_thread, &s));
	end = time(NULL) + STORE_SECONDS;
	while (time(NULL) < end) {
		size_t at = copies % 64;

		if (splice_in(self->pipe[1], page, sizeof(drain)) ||
		    zio_copy(self->fd, page + 2048 + at, src + at, 32, NULL) ||
		    read_exact(self->pipe[0], drain, sizeof(drain)))
			failed++;
		copies++;
	}
	atomic_store(&s.stop, true);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	after = own_counters(self);
	TH_LOG("%ld stores, %ld lost, during %ld partial copies into the page; pages_cow +%llu",
	       s.stores, s.lost, copies,
	       (unsigned long long)(after.pages_cow - before.pages_cow));
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, s.lost) {
		TH_LOG("first lost store: read %llu after storing %llu",
		       (unsigned long long)s.lost_seen,
		       (unsigned long long)s.lost_expected);
	}
	EXPECT_EQ(0, s.readback);
	EXPECT_LT(0, s.stores);
	EXPECT_LT(0, copies);
	/* The last store and the last copy are both there. */
	EXPECT_EQ(s.stores, (long)*s.word);
	EXPECT_EQ(0, memcmp(page + 2048 + (copies - 1) % 64, src + (copies - 1) % 64, 32));
}

/*
 * 7. munmap while a ZIO_IOC_READ is blocked on an empty pipe: the read
 * must not put the data into the slots munmap discarded. The fixture's
 * mapping keeps the space alive, so slots filled after all would show.
 */
struct blocked_read {
	int zfd, fd;
	char *buf;
	size_t len;
	atomic_int tid;
	long ret;
};

static void *blocked_read_thread(void *arg)
{
	struct blocked_read *b = arg;

	atomic_store(&b->tid, (int)syscall(SYS_gettid));
	b->ret = zio_io(b->zfd, ZIO_IOC_READ, b->fd, b->buf, b->len);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

TEST_F(holders, munmap_during_blocked_read)
{
	size_t ps = self->ps, n = 4 * ps;
	off_t off = 2 * self->len;	/* slots no other mapping covers */
	struct blocked_read b = { .zfd = self->fd, .fd = self->pipe[0], .len = n };
	char *data = malloc(n), *again;
	struct zio_counters c;
	pthread_t thread;
	int tid, i;

	ASSERT_NE(NULL, data);
	b.buf = zio_map(self->fd, n, off);
	ASSERT_NE(MAP_FAILED, b.buf);
	ASSERT_LE(n, (size_t)fcntl(self->pipe[1], F_SETPIPE_SZ, 2 * n));
	ASSERT_EQ(0, pthread_create(&thread, NULL, blocked_read_thread, &b));
	while (!(tid = atomic_load(&b.tid)))
		sleep_ms(1);
	/* Blocked in the read: sleeping, and for a while. */
	for (i = 0; i < 5000 && zio_thread_state(tid) != 'S'; i++)
		sleep_ms(1);
	sleep_ms(200);
	EXPECT_EQ('S', zio_thread_state(tid));

	ASSERT_EQ(0, munmap(b.buf, n));
	zio_fill(data, n, 13);
	ASSERT_EQ((ssize_t)n, write(self->pipe[1], data, n));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(-EFAULT, b.ret) {
		TH_LOG("the read into the unmapped buffer returned %ld", b.ret);
	}

	/* The discarded slots stay empty (the fixture's mapping is untouched). */
	c = own_counters(self);
	EXPECT_EQ(0, c.pages_live) {
		TH_LOG("the read filled %llu slots nobody maps",
		       (unsigned long long)c.pages_live);
	}
	again = zio_map(self->fd, n, off);
	ASSERT_NE(MAP_FAILED, again);
	EXPECT_EQ(-1, zio_nonzero(again, n)) {
		TH_LOG("the same offset mapped again reads %s",
		       memcmp(again, data, n) ? "something" : "the pipe's data");
	}
	munmap(again, n);
	free(data);
}

/*
 * 8. A fork child whose snapshot failed: faults get SIGBUS, every ioctl
 * on the broken space -EIO, and the parent's data stays as it was.
 * debug_fork_fail_after makes the snapshot fail after that many slots.
 */
static sigjmp_buf sigbus_env;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(sigbus_env, 1);
}

/* Touch @p (write: store to it): whether that raised SIGBUS. */
static bool touch_sigbus(volatile char *p, bool write)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	bool bus = false;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(sigbus_env, 1) == 0) {
		if (write)
			*p = 1;
		else
			(void)*p;
	} else {
		bus = true;
	}
	sigaction(SIGBUS, &old, NULL);
	return bus;
}

/* What the broken child saw, in memory it shares with the parent. */
struct broken_child {
	long copy, copy_partial, write, sent, read, discard;
	bool sigbus[4];
	bool done;
};

TEST_F(holders, broken_fork_child)
{
	size_t ps = self->ps;
	char *map = self->map, byte;
	struct zio_range r = { .addr = (uintptr_t)map, .len = 2 * ps };
	struct broken_child *bc;
	int p2[2];

	self->saved_fail_after = zio_param_get("debug_fork_fail_after");
	if (self->saved_fail_after < 0)
		SKIP(return, "the module has no debug_fork_fail_after");
	bc = mmap(NULL, sizeof(*bc), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bc);
	ASSERT_EQ(0, pipe(p2));
	ASSERT_EQ(0, fcntl(p2[0], F_SETFL, O_NONBLOCK));
	zio_fill(map, 8 * ps, 14);

	/* The snapshot takes one of the eight slots, then fails. */
	ASSERT_EQ(0, zio_param_set("debug_fork_fail_after", 1));
	fflush(NULL);
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		/* Before any fault: the ioctls. */
		bc->copy = zio_copy(self->fd, map + 4 * ps, map, 2 * ps, NULL);
		bc->copy_partial = zio_copy(self->fd, map + 4 * ps + 10, map + 1, 100, NULL);
		bc->write = zio_io(self->fd, ZIO_IOC_WRITE, p2[1], map, 2 * ps);
		/* What the write sent, if anything (a non-blocking read end). */
		for (bc->sent = 0; read(p2[0], &byte, 1) == 1; bc->sent++)
			;
		if (write(p2[1], "data", 4) != 4)
			_exit(1);
		bc->read = zio_io(self->fd, ZIO_IOC_READ, p2[0], map + 5 * ps, 4);
		bc->discard = zio_ioctl(self->fd, ZIO_IOC_DISCARD, &r);
		/* The slot the snapshot took, one it did not, read and write. */
		bc->sigbus[0] = touch_sigbus(map, false);
		bc->sigbus[1] = touch_sigbus(map + 6 * ps, false);
		bc->sigbus[2] = touch_sigbus(map + 6 * ps, true);
		bc->sigbus[3] = touch_sigbus(map + 12 * ps, true);
		bc->done = true;
		_exit(0);
	}
	/* The fork is done: later forks (the harness's) must not fail. */
	EXPECT_EQ(0, zio_param_set("debug_fork_fail_after", self->saved_fail_after));
	EXPECT_EQ(0, reap(&self->child));
	ASSERT_TRUE(bc->done);
	EXPECT_EQ(-EIO, bc->copy);
	EXPECT_EQ(-EIO, bc->copy_partial);
	EXPECT_EQ(-EIO, bc->write);
	EXPECT_EQ(0, bc->sent);
	EXPECT_EQ(-EIO, bc->read);
	EXPECT_EQ(-EIO, bc->discard);
	for (int i = 0; i < 4; i++) {
		EXPECT_TRUE(bc->sigbus[i]) {
			TH_LOG("touch %d of the broken space raised no SIGBUS", i);
		}
	}

	/* The parent is unaffected, and its space works. */
	EXPECT_TRUE(zio_check(map, 8 * ps, 14));
	ASSERT_EQ(0, zio_copy(self->fd, map + 16 * ps, map, 8 * ps, NULL));
	EXPECT_TRUE(zio_check(map + 16 * ps, 8 * ps, 14));
	zio_fill(map, 8 * ps, 15);
	EXPECT_TRUE(zio_check(map, 8 * ps, 15));
	EXPECT_TRUE(zio_check(map + 16 * ps, 8 * ps, 14));
	close(p2[0]);
	close(p2[1]);
	munmap(bc, sizeof(*bc));
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN

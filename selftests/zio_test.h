/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the zio selftests.
 */
#ifndef _ZIO_TEST_H
#define _ZIO_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/sockios.h>
#include <linux/zio.h>

#include "kselftest_harness.h"

static inline uint64_t zio_seed(void);

/*
 * Without the module there is nothing to test: report the whole program as
 * skipped (exit 4), before the harness starts.
 */
static void __attribute__((constructor)) zio_test_require_device(void)
{
	if (access(ZIO_DEVICE_PATH, F_OK) == 0) {
		zio_seed();	/* print it once, before the tests fork */
		return;
	}
	ksft_print_header();
	ksft_exit_skip("%s is missing: zio.ko is not loaded\n", ZIO_DEVICE_PATH);
}

/* ioctl() that returns -errno on failure, for ASSERT_EQ(-EINVAL, ...). */
static inline int zio_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

#define ZIO_PARAM_DIR	"/sys/module/zio/parameters/"

static inline size_t zio_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* mmap(MAP_SHARED) of @fd at @off: the mapping, or MAP_FAILED. */
static inline void *zio_map(int fd, size_t len, off_t off)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

/*
 * ZIO_IOC_COPY of @len bytes from @src to @dst: 0 or -errno. The output
 * fields go to @out when it is not NULL.
 */
static inline int zio_copy_tag(int fd, void *dst, const void *src, size_t len,
			       __u64 tag, struct zio_copy *out)
{
	struct zio_copy c = {
		.dst = (uintptr_t)dst,
		.src = (uintptr_t)src,
		.len = len,
		.tag = tag,
	};
	int ret = zio_ioctl(fd, ZIO_IOC_COPY, &c);

	if (out)
		*out = c;
	return ret;
}

static inline int zio_copy(int fd, void *dst, const void *src, size_t len,
			   struct zio_copy *out)
{
	return zio_copy_tag(fd, dst, src, len, 0, out);
}

static inline int zio_discard(int fd, void *addr, size_t len)
{
	struct zio_range r = { .addr = (uintptr_t)addr, .len = len };

	return zio_ioctl(fd, ZIO_IOC_DISCARD, &r);
}

/* The calling process's counters for @fd (or the module's, @global). */
static inline int zio_counters(int fd, bool global, struct zio_counters *c)
{
	struct zio_stats s = { .flags = global ? ZIO_STATS_GLOBAL : 0 };
	int ret = zio_ioctl(fd, ZIO_IOC_STATS, &s);

	if (!ret)
		*c = s.counters;
	return ret;
}

/* The module's counters, through an open of its own. */
static inline int zio_global_counters(struct zio_counters *c)
{
	int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = zio_counters(fd, true, c);
	close(fd);
	return ret;
}

/*
 * Deterministic data: splitmix64. Every program prints the seed it starts
 * from (ZIO_SEED in the environment overrides it), and every pattern is a
 * function of that seed and a per-use salt, so a failure is reproducible.
 */
static inline uint64_t zio_seed(void)
{
	static uint64_t seed;
	static bool printed;
	const char *env;

	if (!printed) {
		env = getenv("ZIO_SEED");
		seed = env ? strtoull(env, NULL, 0) : 0x7a696f2d73656564ULL;
		printf("# zio: ZIO_SEED=0x%llx\n", (unsigned long long)seed);
		fflush(stdout);
		printed = true;
	}
	return seed;
}

static inline uint64_t zio_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Byte @i of the pattern of @salt (never zero). */
static inline uint64_t zio_pattern_word(uint64_t salt, size_t word)
{
	uint64_t state = (zio_seed() ^ (salt * 0x2545f4914f6cdd1dULL)) +
			 word * 0x9e3779b97f4a7c15ULL;

	return zio_rand(&state) | 0x0101010101010101ULL;
}

/*
 * Fill @len bytes at @buf with bytes @off..@off+@len-1 of the pattern of
 * @salt: the pattern is a function of the position, so any part of it can
 * be made (and checked) on its own.
 */
static inline void zio_fill_at(void *buf, size_t off, size_t len, uint64_t salt)
{
	unsigned char *p = buf;
	uint64_t v = zio_pattern_word(salt, off >> 3);

	for (size_t i = off; i < off + len; i++) {
		if (!(i & 7))
			v = zio_pattern_word(salt, i >> 3);
		p[i - off] = (unsigned char)(v >> ((i & 7) * 8));
	}
}

/* Fill @len bytes at @buf with the pattern of @salt. */
static inline void zio_fill(void *buf, size_t len, uint64_t salt)
{
	zio_fill_at(buf, 0, len, salt);
}

/*
 * Compare @len bytes: -1 when equal, else the offset of the first
 * difference (printed with both values, for the failure message).
 */
static inline long zio_diff(const void *seen, const void *expected, size_t len)
{
	const unsigned char *a = seen, *b = expected;

	if (!memcmp(a, b, len))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (a[i] != b[i]) {
			fprintf(stderr, "# zio: first difference at byte %zu (page %zu): 0x%02x, expected 0x%02x\n",
			       i, i / zio_page_size(), a[i], b[i]);
			return (long)i;
		}
	}
	return -1;
}

/* -1 when @len bytes at @buf are all zero, else the first nonzero offset. */
static inline long zio_nonzero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		if (p[i]) {
			fprintf(stderr, "# zio: nonzero byte 0x%02x at %zu (page %zu)\n",
			       p[i], i, i / zio_page_size());
			return (long)i;
		}
	}
	return -1;
}

/*
 * Whether @len bytes at @buf are bytes @off.. of the pattern of @salt.
 * Page by page through a buffer on the stack: a large malloc() here would
 * raise glibc's mmap threshold and leave megabytes of heap charged to the
 * process, which the memcg test would take for zio's.
 */
static inline bool zio_check_at(const void *buf, size_t off, size_t len,
				uint64_t salt)
{
	const unsigned char *p = buf;
	unsigned char ref[4096];

	for (size_t done = 0; done < len; ) {
		size_t n = len - done < sizeof(ref) ? len - done : sizeof(ref);
		long at;

		zio_fill_at(ref, off + done, n, salt);
		if (memcmp(p + done, ref, n)) {
			for (at = 0; p[done + at] == ref[at]; at++)
				;
			fprintf(stderr, "# zio: first difference at byte %zu (page %zu): 0x%02x, expected 0x%02x\n",
			       done + at, (done + at) / zio_page_size(), p[done + at], ref[at]);
			return false;
		}
		done += n;
	}
	return true;
}

/* Whether @len bytes at @buf are the pattern of @salt. */
static inline bool zio_check(const void *buf, size_t len, uint64_t salt)
{
	return zio_check_at(buf, 0, len, salt);
}

/* VMAs of this process that overlap [@addr, @addr + @len), from /proc. */
static inline int zio_vma_count(const void *addr, size_t len)
{
	unsigned long start = (uintptr_t)addr, end = start + len, lo, hi;
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo < end && hi > start)
			n++;
	fclose(f);
	return n;
}

/*
 * Split a zio mapping without changing what the process may do with it:
 * MADV_DONTDUMP. (mlock cannot: it skips VM_DONTEXPAND mappings.)
 */
static inline int zio_split(void *addr, size_t len)
{
	return madvise(addr, len, MADV_DONTDUMP) ? -errno : 0;
}

/* Where make check mounts an ext4 disk, for the O_DIRECT tests. */
#define ZIO_EXT4_DIR	"/mnt/ext4"

/* Is ZIO_EXT4_DIR an ext4 mount? Without it the O_DIRECT tests skip. */
static inline bool zio_ext4_mounted(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/mounts", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " " ZIO_EXT4_DIR " ext4 ") != NULL;
	fclose(f);
	return found;
}

/*
 * An unlinked O_DIRECT file in ZIO_EXT4_DIR that holds @len bytes of the
 * pattern of @salt, written and synced: its descriptor, or -errno.
 */
static inline int zio_direct_file(const char *name, size_t len, uint64_t salt)
{
	char path[128], *buf;
	int fd, err = 0;

	snprintf(path, sizeof(path), ZIO_EXT4_DIR "/%s.%d", name, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	unlink(path);
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	zio_fill(buf, len, salt);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len || fsync(fd)) {
		err = errno ? -errno : -EIO;
		close(fd);
	}
	munmap(buf, len);
	return err ? err : fd;
}

/* Read a file holding a number (or Y/N): the value, or -errno. */
static inline long long zio_read_number(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	if (buf[0] == 'Y')
		return 1;
	if (buf[0] == 'N')
		return 0;
	return strtoll(buf, NULL, 0);
}

/* Read a module parameter as an integer: the value, or -errno. */
static inline long long zio_param_get(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), ZIO_PARAM_DIR "%s", name);
	return zio_read_number(path);
}

/*
 * Write @s to the file @path opened with @flags (O_TRUNC: as the shell's
 * "echo -n s > path", which also clears tracefs's trace; O_APPEND: as
 * ">>"): 0 or -errno.
 */
static inline int zio_write_file_flags(const char *path, const char *s,
				       int flags)
{
	int fd = open(path, O_WRONLY | flags | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	if (n < 0)
		return -errno;
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

static inline int zio_write_file(const char *path, const char *s)
{
	return zio_write_file_flags(path, s, O_TRUNC);
}

/*
 * Two processes in step over a pipe: zio_wait_for() blocks until the other
 * side's zio_wake(); a broken pipe ends the process (100, 101).
 */
static inline void zio_wait_for(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(100);
}

static inline void zio_wake(int fd)
{
	if (write(fd, "x", 1) != 1)
		_exit(101);
}

/* Set a module parameter: 0 or -errno. */
static inline int zio_param_set(const char *name, long long value)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), ZIO_PARAM_DIR "%s", name);
	snprintf(buf, sizeof(buf), "%lld", value);
	return zio_write_file(path, buf);
}

/* Where zio_fill_to_the_limit()'s SIGBUS handler jumps to. */
static inline sigjmp_buf *zio_sigbus_jmp(void)
{
	static sigjmp_buf jmp;

	return &jmp;
}

static inline void zio_on_sigbus(int sig)
{
	siglongjmp(*zio_sigbus_jmp(), sig);
}

/*
 * In a child, once max_pages is set to the pages zio holds + @room: touch
 * the pages of a fresh mapping until a fault fails, then try a read into
 * the rest. Exit status: 0 when exactly @room pages could be touched, the
 * touch after them got SIGBUS and ZIO_IOC_READ failed with ENOMEM; 1-4
 * otherwise (ZIO_FILL_FAILURES says which).
 */
#define ZIO_FILL_FAILURES "1: setup failed, 2: no SIGBUS, " \
	"3: SIGBUS after the wrong page, 4: the read did not fail with ENOMEM"

static inline int zio_fill_to_the_limit(unsigned int room)
{
	const size_t page = zio_page_size();
	volatile unsigned int touched = 0;
	struct sigaction sa = { .sa_handler = zio_on_sigbus };
	struct zio_io io = { .offset = ZIO_IO_FILE_POS };
	char *buf, data[64] = "past the limit";
	int fd, pipefd[2];
	long ret;

	fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 1;
	buf = zio_map(fd, 4 * room * page, 0);
	if (buf == MAP_FAILED || sigaction(SIGBUS, &sa, NULL))
		return 1;
	if (!sigsetjmp(*zio_sigbus_jmp(), 1)) {
		for (; touched < 4 * room; touched++)
			buf[touched * page] = 1;
		return 2;		/* no SIGBUS */
	}
	if (touched != room)
		return 3;

	if (pipe(pipefd) || write(pipefd[1], data, sizeof(data)) != sizeof(data))
		return 1;
	io.fd = pipefd[0];
	io.addr = (uintptr_t)buf + 2 * room * page;
	io.len = page;
	ret = zio_ioctl(fd, ZIO_IOC_READ, &io);
	if (ret != -ENOMEM)
		return 4;
	return 0;
}

/*
 * The last test of a program (fixtures run in the order they are defined,
 * after the TEST()s): once every test before has exited, the module holds
 * no page and no pending copy any more.
 */
#define ZIO_TEST_NOTHING_LEFT()						\
FIXTURE(last) {								\
	int unused;							\
};									\
FIXTURE_SETUP(last) {}							\
FIXTURE_TEARDOWN(last) {}						\
TEST_F(last, nothing_left)						\
{									\
	struct zio_counters c;						\
									\
	ASSERT_EQ(0, zio_global_counters(&c));				\
	EXPECT_EQ(0, c.pages_live);					\
	EXPECT_EQ(0, c.pages_shared);					\
	EXPECT_EQ(0, c.pages_pending);					\
}

/*
 * Wait until TCP has nothing unacknowledged on @fd (the peer's stack has
 * every byte, and the retransmit queue let go of its pages): 0, or -1
 * after 10 s.
 */
static inline int zio_tcp_wait_acked(int fd)
{
	for (int i = 0; i < 10000; i++) {
		int outq;

		if (ioctl(fd, SIOCOUTQ, &outq))
			return -1;
		if (!outq)
			return 0;
		usleep(1000);
	}
	return -1;
}

/* The state letter of thread @tid of this process, from /proc; 0 if unknown. */
static inline char zio_thread_state(int tid)
{
	char path[64], line[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (!p)
		return 0;
	p = strrchr(line, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

#endif /* _ZIO_TEST_H */

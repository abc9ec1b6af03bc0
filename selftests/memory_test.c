// SPDX-License-Identifier: GPL-2.0
/*
 * Who holds zio's memory, and how much of it there may be: zio's pages are
 * not on the LRU and are never swapped, so they must show in the RSS of the
 * process whose slots hold them (for the OOM killer), mapped or not, and
 * the module parameter max_pages bounds them all: past it an ioctl fails
 * with ENOMEM and a fault gets SIGBUS.
 */
#include <signal.h>
#include <sys/wait.h>

#include "zio_test.h"

/* The process's RssShmem in bytes, or -1. */
static long long rss_shmem(void)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "RssShmem: %lld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

#define MIB		(1024 * 1024)

/*
 * In the test VM the programs and their libraries live on tmpfs: their
 * text counts in RssShmem too, and grows as new code runs. The checks
 * move 16 MiB or more of slots and allow this much of such noise.
 */
#define RSS_NOISE	(4 * MIB)
#define EXPECT_RSS(expected, seen)					\
	EXPECT_GE(RSS_NOISE, llabs((long long)(seen) - (long long)(expected)))

/*
 * The loop of the review: open, map, close the descriptor, touch, then
 * MADV_DONTNEED. The slots keep the pages; the RSS must say so.
 */
TEST(rss_counts_slots_nothing_maps)
{
	const size_t len = 8 * MIB;
	long long before, after;
	char *maps[4];
	int i;

	rss_shmem();	/* fault the code of the check in */
	before = rss_shmem();
	ASSERT_LE(0, before);
	for (i = 0; i < 4; i++) {
		int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);

		ASSERT_LE(0, fd);
		maps[i] = zio_map(fd, len, 0);
		ASSERT_NE(MAP_FAILED, maps[i]);
		close(fd);
		memset(maps[i], 0x5a, len);
		ASSERT_EQ(0, madvise(maps[i], len, MADV_DONTNEED));
	}
	after = rss_shmem();
	TH_LOG("RssShmem %lld kB before, %lld kB with 32 MiB of slots unmapped",
	       before / 1024, after / 1024);
	EXPECT_RSS(before + 4 * (long long)len, after);

	/* The data is still there, and counted once more while mapped. */
	EXPECT_EQ(0x5a, maps[3][len - 1]);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, munmap(maps[i], len));
	EXPECT_RSS(before, rss_shmem());
}

/* A copy's destination slots count like the copies they stand for. */
TEST(rss_counts_each_slot_of_a_copy)
{
	const size_t len = 16 * MIB;
	long long before, after;
	char *buf;
	int fd;

	fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	buf = zio_map(fd, 2 * len, 0);
	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 1, len);
	ASSERT_EQ(0, madvise(buf, len, MADV_DONTNEED));
	rss_shmem();
	before = rss_shmem();
	ASSERT_EQ(0, zio_copy(fd, buf + len, buf, len, NULL));
	after = rss_shmem();
	EXPECT_RSS(before + (long long)len, after);
	ASSERT_EQ(0, zio_discard(fd, buf, 2 * len));
	EXPECT_RSS(before - (long long)len, rss_shmem());
	ASSERT_EQ(0, munmap(buf, 2 * len));
	close(fd);
}

/* A fork child's slots count in the child's RSS, the parent's stay. */
TEST(rss_of_a_fork_child)
{
	const size_t len = 16 * MIB;
	long long before;
	int fd, status;
	char *buf;
	pid_t pid;

	fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	buf = zio_map(fd, len, 0);
	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 2, len);
	ASSERT_EQ(0, madvise(buf, len, MADV_DONTNEED));
	rss_shmem();
	before = rss_shmem();

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		long long rss = rss_shmem();

		/* The child's slots, mapped by nothing yet. */
		_exit(rss >= (long long)len && buf[7] == 2 ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_RSS(before, rss_shmem());
	ASSERT_EQ(0, munmap(buf, len));
	close(fd);
}

TEST(max_pages_bounds_faults_and_ioctls)
{
	const unsigned int room = 8;
	struct zio_counters c = {};
	long long saved;
	int status;
	pid_t pid;

	saved = zio_param_get("max_pages");
	ASSERT_LT(0, saved) TH_LOG("no module parameter max_pages: %lld", saved);
	ASSERT_EQ(0, zio_global_counters(&c));
	ASSERT_EQ(0, zio_param_set("max_pages", c.pages_live + room));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(zio_fill_to_the_limit(room));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, zio_param_set("max_pages", saved));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG(ZIO_FILL_FAILURES);
	}
	ASSERT_EQ(0, zio_global_counters(&c));
	EXPECT_EQ(0, c.pages_live);
}

/*
 * A page with a memory error (injected with MADV_HWPOISON, which needs
 * CAP_SYS_ADMIN) stays in its slot: zio's pages are on no LRU, so the
 * memory-failure code leaves them alone. The next fault on it must get
 * SIGBUS. The core mm must never see it returned locked from zio's fault
 * handler: it would try to evict it from the address_space page->mapping
 * names and drop zio's reference with the page still in its slot.
 */
/* Poison the page mapped at @addr through hwpoison-inject: 0 or -1. */
static int poison_pfn(const void *addr)
{
	uint64_t entry;
	char pfn[32];
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (pread(fd, &entry, sizeof(entry),
		  (uintptr_t)addr / zio_page_size() * sizeof(entry)) != sizeof(entry) ||
	    !(entry >> 63) || !(entry & ((1ULL << 55) - 1))) {
		close(fd);
		return -1;
	}
	close(fd);
	snprintf(pfn, sizeof(pfn), "%#llx",
		 (unsigned long long)(entry & ((1ULL << 55) - 1)));
	/* It marks the page, then fails (EBUSY) for a page on no LRU. */
	return zio_write_file("/sys/kernel/debug/hwpoison/corrupt-pfn", pfn) == -ENOENT ?
	       -1 : 0;
}

TEST(poisoned_page_gets_sigbus)
{
	const size_t ps = zio_page_size();
	struct zio_counters c;
	int fd, status;
	char *buf;
	pid_t pid;

	fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	buf = zio_map(fd, 4 * ps, 0);
	ASSERT_NE(MAP_FAILED, buf);
	/*
	 * Page 1 clean (read, never written: no dirty bit), as the core mm
	 * would evict it if it saw it: the others written.
	 */
	memset(buf, 7, ps);
	memset(buf + 2 * ps, 7, 2 * ps);
	EXPECT_EQ(0, ((volatile char *)buf)[ps]);
	/*
	 * Poison it as a memory error would, with no reference of the
	 * injector's left on it (hwpoison-inject); MADV_HWPOISON keeps one,
	 * which hides the eviction. Either way the memory-failure code marks
	 * the page and then gives up on a page on no LRU.
	 */
	if (poison_pfn(buf + ps) && madvise(buf + ps, ps, MADV_HWPOISON) &&
	    errno != EBUSY) {
		munmap(buf, 4 * ps);
		close(fd);
		SKIP(return, "neither hwpoison-inject nor MADV_HWPOISON: %s",
		     strerror(errno));
	}
	ASSERT_EQ(0, madvise(buf + ps, ps, MADV_DONTNEED));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		(void)*(volatile char *)(buf + ps);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS) {
		TH_LOG("a touch of the poisoned page: status %#x", status);
	}
	/* The other pages are intact. */
	EXPECT_EQ(7, buf[0]);
	EXPECT_EQ(7, buf[3 * ps - 1 + ps]);
	/*
	 * A read over it takes it out of its slot. The space's pool of free
	 * pages must not keep it (only the read's unused spare): it would be
	 * handed out and written again.
	 */
	{
		struct zio_counters sc;
		struct zio_io io = {
			.addr = (uintptr_t)(buf + ps), .len = ps,
			.offset = ZIO_IO_FILE_POS,
		};
		int p[2];

		ASSERT_EQ(0, pipe(p));
		ASSERT_EQ((ssize_t)ps, write(p[1], buf, ps));
		io.fd = p[0];
		EXPECT_EQ((long)ps, ioctl(fd, ZIO_IOC_READ, &io));
		EXPECT_EQ(7, buf[ps]);
		ASSERT_EQ(0, zio_counters(fd, false, &sc));
		EXPECT_EQ(1, sc.pages_pooled);
		close(p[0]);
		close(p[1]);
	}
	ASSERT_EQ(0, munmap(buf, 4 * ps));
	close(fd);
	ASSERT_EQ(0, zio_global_counters(&c));
	EXPECT_EQ(0, c.pages_live);
}

/* The default is half of the RAM. */
TEST(max_pages_default)
{
	long long pages = zio_param_get("max_pages");
	long long ram = sysconf(_SC_PHYS_PAGES);

	ASSERT_LT(0, pages);
	EXPECT_LE(ram / 2 - 1024, pages);
	EXPECT_GE(ram / 2 + 1024, pages);
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN

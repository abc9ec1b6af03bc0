// SPDX-License-Identifier: GPL-2.0
/*
 * zio_libcheck: targeted checks of libzio, one per subcommand, run by
 * libzio_test. Linked with -lzio, so it also exercises the explicit API
 * of <zio.h> (and the interposition that linking brings).
 *
 *   zio_libcheck COMMAND
 *
 * Exit status: 0 pass, 1 fail (reason on stderr), 4 skip.
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libzio_check.h"

static void *(*volatile p_memcpy)(void *, const void *, size_t) = memcpy;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int need_arena(void)
{
	if (stats().arena_bytes)
		return 0;
	fprintf(stderr, "zio_libcheck: no arena (module without ZIO_FEATURE_COPY?)\n");
	exit(4);
}

/* Large copies between arena buffers are deferred; the data is right. */
static int cmd_defer(void)
{
	size_t n = 8 * MiB;
	unsigned char *a, *b;
	struct zio_lib_stats st;

	need_arena();
	a = malloc(n);
	b = malloc(n);
	CHECK(a && b && zio_owns(a) && zio_owns(b));
	CHECK(((uintptr_t)a & 4095) == 0);
	fill(a, n, 1);
	p_memcpy(b, a, n);
	st = stats();
	CHECK(st.copies_module >= 1);
	CHECK(st.bytes_deferred >= n - 4096);
	CHECK(same(b, n, 1));
	/* Writes to either side stay on that side. */
	memset(b + 3 * 4096 + 5, 0x11, 100);
	CHECK(same(a, n, 1));
	fill(a, n, 2);
	CHECK(b[0] == (unsigned char)1 && b[3 * 4096 + 5] == 0x11);
	/* Different offsets: pending copies. */
	p_memcpy(b + 100, a + 5000, n - 5000);
	CHECK(same(a, n, 2));
	for (size_t i = 0; i < n - 5000; i++)
		CHECK(b[100 + i] == (unsigned char)((i + 5000) * 31 + 2 + ((i + 5000) >> 12)));
	st = stats();
	printf("# defer: %llu copies to the module, %llu bytes deferred, module: %llu pages shared, %llu cow, %llu materialized\n",
	       st.copies_module, st.bytes_deferred, st.module.pages_shared,
	       st.module.pages_cow, st.module.pages_materialized);
	free(a);
	free(b);
	return 0;
}

/* realloc grows and shrinks in place, or moves pages; data survives. */
static int cmd_realloc(void)
{
	unsigned char *a, *b, *c;
	struct zio_lib_stats st;

	need_arena();
	a = malloc(1 * MiB);
	fill(a, MiB, 3);
	a = realloc(a, 3 * MiB);		/* in place: nothing after it */
	CHECK(a && zio_owns(a) && same(a, MiB, 3));
	b = malloc(1 * MiB);			/* right after a */
	CHECK(b);
	memset(b, 1, MiB);
	fill(a, 3 * MiB, 4);
	a = realloc(a, 6 * MiB);		/* must move */
	CHECK(a && same(a, 3 * MiB, 4));
	st = stats();
	printf("# realloc: %llu in place, %llu moved\n", st.realloc_in_place, st.realloc_moved);
	CHECK(st.realloc_moved >= 1 && st.realloc_in_place >= 1);
	a = realloc(a, 2 * MiB + 17);		/* shrink in place */
	CHECK(same(a, 2 * MiB + 17, 4));
	CHECK(malloc_usable_size(a) == 2 * MiB + 4096);
	c = realloc(a, 100);			/* to the next allocator */
	CHECK(c && !zio_owns(c) && same(c, 100, 4));
	c = realloc(c, 2 * MiB);		/* and back to the arena */
	CHECK(c && zio_owns(c) && same(c, 100, 4));
	CHECK(b[MiB - 1] == 1);
	free(c);
	free(b);
	return 0;
}

/* calloc of recycled arena pages reads zero. */
static int cmd_calloc(void)
{
	for (int round = 0; round < 20; round++) {
		size_t n = (round + 1) * 256 * 1024;
		unsigned char *a = malloc(n), *z;

		CHECK(a);
		memset(a, 0xff, n);
		free(a);
		z = calloc(1, n);
		CHECK(z);
		for (size_t i = 0; i < n; i++)
			CHECK(z[i] == 0);
		free(z);
	}
	return 0;
}

/* The explicit API, whatever the size. */
static int cmd_api(void)
{
	unsigned char *a = zio_alloc(5 * 4096), *b = zio_alloc(5 * 4096);

	CHECK(a && b && ((uintptr_t)a & 4095) == 0);
	for (size_t i = 0; i < 5 * 4096; i++)
		CHECK(a[i] == 0 || !zio_owns(a));
	fill(a, 5 * 4096, 5);
	CHECK(zio_copy(b, a, 5 * 4096) == b);
	CHECK(same(b, 5 * 4096, 5));
	CHECK(zio_copy(a + 1, a, 4 * 4096) == a + 1);	/* overlapping */
	CHECK(a[0] == b[0]);
	for (size_t i = 0; i < 4 * 4096; i++)
		CHECK(a[i + 1] == b[i]);
	zio_free(a);
	zio_free(b);
	zio_free(NULL);
	CHECK(!zio_owns(&a));
	return 0;
}

/* One call site of memcpy() for the policy's tests. */
static __attribute__((noinline)) void site_copy(void *dst, const void *src, size_t n)
{
	p_memcpy(dst, src, n);
	__asm__ volatile("" ::: "memory");
}

/* A copy site whose copies are all written over is switched to memcpy. */
static int copy_write_loop(int rounds, size_t n)
{
	unsigned char *src = malloc(n), *dst = malloc(n);

	CHECK(src && dst);
	fill(src, n, 6);
	for (int r = 0; r < rounds; r++) {
		site_copy(dst, src, n);
		for (size_t i = 0; i < n; i += 64)
			dst[i] ^= 1;
	}
	CHECK(dst[64] == (unsigned char)(src[64] ^ 1) && dst[65] == src[65]);
	free(src);
	free(dst);
	return 0;
}

static int cmd_policy(void)
{
	struct zio_lib_stats st;
	double t;

	need_arena();
	t = now();
	copy_write_loop(300, MiB);
	t = now() - t;
	st = stats();
	printf("# policy: %llu call sites, %llu off; %llu copies by the module, %llu by memcpy for the policy; %.3f s\n",
	       st.sites, st.sites_disabled, st.copies_module, st.copies_policy, t);
	CHECK(st.sites_disabled >= 1);
	CHECK(st.copies_policy >= 200);
	/*
	 * What it costs, counted rather than timed: the copies that went to
	 * the module before the site was switched off (and were then written
	 * over, each page copied twice). No probe is due within 300 calls.
	 */
	CHECK(st.copies_module <= 16);

	/* The same site now copies without writing: a probe turns it on again. */
	{
		unsigned char *src = malloc(MiB), *dst = malloc(MiB);
		unsigned long long before = st.copies_module;

		CHECK(src && dst);
		fill(src, MiB, 9);
		for (int r = 0; r < 1200; r++)
			site_copy(dst, src, MiB);
		CHECK(same(dst, MiB, 9));
		st = stats();
		printf("# policy: after 1200 copies that stay shared: %llu sites off, %llu more copies by the module\n",
		       st.sites_disabled, st.copies_module - before);
		CHECK(st.sites_disabled == 0);
		CHECK(st.copies_module - before >= 500);
		free(src);
		free(dst);
	}
	return 0;
}

/*
 * The same loop, timed, for benchmarks that compare it with ZIO_DISABLE=1
 * (tests never time anything: TCG makes times meaningless).
 */
static int cmd_policy_time(void)
{
	double t;

	copy_write_loop(50, MiB);	/* warm up, and let the policy learn */
	t = now();
	copy_write_loop(1000, MiB);
	printf("%.6f\n", now() - t);
	return 0;
}

/* exec: the device's fd does not survive it. */
static int count_zio_fds(void)
{
	char path[300], target[256];
	struct dirent *e;
	int n = 0;
	DIR *d = opendir("/proc/self/fd");

	CHECK(d);
	while ((e = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (strstr(target, "zio"))
			n++;
	}
	closedir(d);
	return n;
}

static int cmd_exec(void)
{
	need_arena();
	CHECK(count_zio_fds() == 1);
	setenv("ZIO_DISABLE", "1", 1);
	execl("/proc/self/exe", "zio_libcheck", "exec-child", (char *)NULL);
	perror("exec");
	return 1;
}

static int cmd_exec_child(void)
{
	CHECK(stats().arena_bytes == 0);
	CHECK(count_zio_fds() == 0);
	return 0;
}

/* Large copies from a signal handler, interrupting large copies. */
static unsigned char *sig_src, *sig_dst;
static volatile unsigned long sig_count;

static void on_alarm(int sig)
{
	(void)sig;
	p_memcpy(sig_dst, sig_src, 2 * MiB);
	sig_count++;
}

static int cmd_signal(void)
{
	unsigned char *a = malloc(4 * MiB), *b = malloc(4 * MiB);
	struct itimerval it = { 0 };
	double end, t;
	unsigned long rounds = 0;
	long period_us;

	sig_src = malloc(2 * MiB);
	sig_dst = malloc(2 * MiB);
	CHECK(a && b && sig_src && sig_dst);
	fill(sig_src, 2 * MiB, 7);
	fill(a, 4 * MiB, 8);
	/*
	 * A signal every millisecond, or every four handler runs where one
	 * takes longer (KASAN): the loop must still make progress.
	 */
	t = now();
	on_alarm(0);
	period_us = (long)((now() - t) * 4e6);
	if (period_us < 1000)
		period_us = 1000;
	it.it_interval.tv_sec = it.it_value.tv_sec = period_us / 1000000;
	it.it_interval.tv_usec = it.it_value.tv_usec = period_us % 1000000;
	sig_count = 0;
	end = now() + 3;
	signal(SIGALRM, on_alarm);
	setitimer(ITIMER_REAL, &it, NULL);
	while (now() < end) {
		memset(b, 0, 4 * MiB);
		p_memcpy(b + 8, a + 8, 4 * MiB - 8);
		memmove(b + 4096, b, 4 * MiB - 4096);
		rounds++;
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(same(sig_dst, 2 * MiB, 7));
	CHECK(same(a, 4 * MiB, 8));
	for (size_t i = 8; i < 4096; i++)
		CHECK(b[i] == a[i]);
	for (size_t i = 4096; i < 4 * MiB; i++)
		CHECK(b[i] == (i - 4096 < 8 ? 0 : a[i - 4096]));
	printf("# signal: %lu rounds, %lu copies in the handler, %llu short\n",
	       rounds, sig_count, stats().copies_short);
	return 0;
}

/* More than the arena holds: the rest comes from the next allocator. */
static int cmd_limits(void)
{
	enum { N = 40 };
	unsigned char *p[N];
	struct zio_lib_stats st;

	need_arena();
	for (int i = 0; i < N; i++) {
		p[i] = malloc(64 * MiB);
		CHECK(p[i]);
		p[i][i * 4096] = i;
	}
	st = stats();
	CHECK(st.arena_fallbacks >= 1);
	for (int i = 0; i < N; i++) {
		CHECK(p[i][i * 4096] == i);
		free(p[i]);
	}
	st = stats();
	CHECK(st.arena_used == 0);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct check_cmd cmds[] = {
		{ "defer", cmd_defer },
		{ "realloc", cmd_realloc },
		{ "calloc", cmd_calloc },
		{ "api", cmd_api },
		{ "policy", cmd_policy },
		{ "policy-time", cmd_policy_time },
		{ "exec", cmd_exec },
		{ "exec-child", cmd_exec_child },
		{ "signal", cmd_signal },
		{ "limits", cmd_limits },
	};

	return check_main(argc, argv, cmds, sizeof(cmds) / sizeof(cmds[0]));
}

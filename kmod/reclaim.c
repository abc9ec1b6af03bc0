// SPDX-License-Identifier: GPL-2.0
/*
 * Memory reclaim: the pages spaces keep for later (the pool of free pages,
 * send frags that no socket holds) go back to the system when it runs
 * short, through a shrinker. Nothing a program can see changes: the next
 * read or send that wanted a kept page allocates one. The shrinker is not
 * memcg-aware: a memory cgroup at its limit does not get the pages back
 * (at most 5 MiB a space: the pool and the frags).
 */
#include <linux/mm.h>
#include <linux/shrinker.h>

#include "frag.h"
#include "reclaim.h"
#include "slot.h"
#include "space.h"
#include "stats.h"

struct zio_reclaim_scan {
	unsigned long left;
	unsigned long freed;
};

static bool zio_reclaim_space(struct zio_space *space, void *arg)
{
	struct zio_reclaim_scan *scan = arg;
	unsigned long n;

	n = zio_pool_shrink(space, scan->left);
	scan->left -= n;
	scan->freed += n;
	if (scan->left) {
		n = zio_frags_shrink(space, scan->left);
		scan->left -= min(n, scan->left);
		scan->freed += n;
	}
	return !scan->left;
}

static unsigned long zio_reclaim_count(struct shrinker *shrinker,
				       struct shrink_control *sc)
{
	unsigned long pooled = atomic64_read(&zio_nr_pooled);

	return pooled ? pooled : SHRINK_EMPTY;
}

static unsigned long zio_reclaim_scan(struct shrinker *shrinker,
				      struct shrink_control *sc)
{
	struct zio_reclaim_scan scan = { .left = sc->nr_to_scan };

	/*
	 * Nothing freed: every frag left is in flight, or zio_spaces_lock is
	 * busy. Walking the spaces again would free nothing either.
	 */
	if (!zio_spaces_try_each(zio_reclaim_space, &scan) || !scan.freed)
		return SHRINK_STOP;
	return scan.freed;
}

/* 6.7 replaced register_shrinker() by shrinker_alloc() and shrinker_register(). */
#ifdef ZIO_HAVE_SHRINKER_ALLOC
static struct shrinker *zio_shrinker;

static int zio_shrinker_start(void)
{
	zio_shrinker = shrinker_alloc(0, "zio-pooled");
	if (!zio_shrinker)
		return -ENOMEM;
	zio_shrinker->count_objects = zio_reclaim_count;
	zio_shrinker->scan_objects = zio_reclaim_scan;
	shrinker_register(zio_shrinker);
	return 0;
}

static void zio_shrinker_stop(void)
{
	shrinker_free(zio_shrinker);
}
#else
static struct shrinker zio_shrinker = {
	.count_objects = zio_reclaim_count,
	.scan_objects = zio_reclaim_scan,
	.seeks = DEFAULT_SEEKS,
};

static int zio_shrinker_start(void)
{
	return register_shrinker(&zio_shrinker, "zio-pooled");
}

static void zio_shrinker_stop(void)
{
	unregister_shrinker(&zio_shrinker);
}
#endif

/**
 * zio_reclaim_register() - let memory reclaim take the pages spaces keep
 *
 * Return: 0 or a negative errno.
 */
int zio_reclaim_register(void)
{
	return zio_shrinker_start();
}

/**
 * zio_reclaim_unregister() - undo zio_reclaim_register()
 */
void zio_reclaim_unregister(void)
{
	zio_shrinker_stop();
}

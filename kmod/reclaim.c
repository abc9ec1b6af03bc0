// SPDX-License-Identifier: GPL-2.0
/*
 * Memory reclaim: the pages spaces keep for later (the pool of free pages,
 * send frags that no socket holds) go back to the system when it runs
 * short, through a shrinker. Nothing a program can see changes: the next
 * read or send that wanted a kept page allocates one.
 *
 * The kept pages are charged to the space's memory cgroup, so the shrinker
 * is memcg-aware: a cgroup that reclaims (at its limit, or through
 * memory.reclaim) gets back the pages of its own spaces. It finds them
 * through a memcg-aware list_lru that holds every space, from its creation
 * to its release, in the list of the cgroup its struct is charged to,
 * which is the one its pages are charged to (space.c). A space's struct
 * comes from a slab cache of its own because only an allocation that
 * names the list_lru makes the list of the cgroup exist
 * (zio_reclaim_space_alloc()).
 *
 * The walks hold the list's spinlock: they take a space's pool_lock and
 * only trylock its frags lock, so reclaim never waits for a zio lock that
 * an allocating task holds. A space leaves the list before its release
 * frees what it keeps, so a walk never sees a space on its way out.
 *
 * The lists are per NUMA node too, by the node of the space's struct: the
 * reclaim of one node (kswapd, a node-bound allocation) takes the pages of
 * the spaces whose struct is there, whatever node the pages are on. A
 * cgroup's own reclaim goes over every node.
 */
#include <linux/list_lru.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

#include "compat.h"
#include "frag.h"
#include "reclaim.h"
#include "slot.h"
#include "space.h"

static struct kmem_cache *zio_space_cache;
static struct list_lru zio_reclaim_lru;
/* 6.1 can register its shrinker only before the list exists. */
static bool zio_reclaim_ready;

static bool zio_reclaim_list_ready(void)
{
	/* Pairs with zio_shrinker_start(): the list is initialized. */
	return smp_load_acquire(&zio_reclaim_ready);
}

/* A count looks at this many spaces at most, and scales. */
#define ZIO_RECLAIM_COUNT_SPACES	64UL

struct zio_reclaim_scan {
	unsigned long left;
	unsigned long freed;
	unsigned long *nr_to_walk;
};

static struct zio_space *zio_reclaim_entry(struct list_head *item)
{
	return container_of(item, struct zio_space, reclaim_node);
}

static enum lru_status zio_reclaim_count_space(struct list_head *item,
					       struct list_lru_one *list,
					       spinlock_t *lock, void *arg)
{
	struct zio_space *space = zio_reclaim_entry(item);
	unsigned long *count = arg;

	*count += READ_ONCE(space->nr_pool) + READ_ONCE(space->frags.nr_pages);
	return LRU_SKIP;
}

/* The next scan starts with the space after this one. */
static enum lru_status zio_reclaim_scan_space(struct list_head *item,
					      struct list_lru_one *list,
					      spinlock_t *lock, void *arg)
{
	struct zio_space *space = zio_reclaim_entry(item);
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
	/* Done: the walk stops before the next space. */
	if (!scan->left)
		*scan->nr_to_walk = 0;
	return LRU_ROTATE;
}

static unsigned long zio_reclaim_count(struct shrinker *shrinker,
				       struct shrink_control *sc)
{
	unsigned long spaces, walk, nr, count = 0;

	if (!zio_reclaim_list_ready())
		return SHRINK_EMPTY;
	/*
	 * SHRINK_EMPTY only without spaces: it takes the cgroup off the
	 * shrinker's map on this node until a space is added to its list,
	 * and a pool that fills again adds none.
	 */
	spaces = list_lru_shrink_count(&zio_reclaim_lru, sc);
	if (!spaces)
		return SHRINK_EMPTY;
	walk = min(spaces, ZIO_RECLAIM_COUNT_SPACES);
	nr = walk;
	list_lru_walk_one(&zio_reclaim_lru, sc->nid, sc->memcg,
			  zio_reclaim_count_space, &count, &nr);
	walk -= nr;
	return walk ? count * spaces / walk : 0;
}

static unsigned long zio_reclaim_scan(struct shrinker *shrinker,
				      struct shrink_control *sc)
{
	struct zio_reclaim_scan scan = { .left = sc->nr_to_scan };
	unsigned long nr;

	if (!zio_reclaim_list_ready())
		return SHRINK_STOP;
	/* Each space once: one rotated to the tail would come round again. */
	nr = list_lru_shrink_count(&zio_reclaim_lru, sc);
	scan.nr_to_walk = &nr;
	list_lru_walk_one(&zio_reclaim_lru, sc->nid, sc->memcg,
			  zio_reclaim_scan_space, &scan, &nr);
	/* Every frag left is in flight: walking again would free nothing. */
	return scan.freed ? scan.freed : SHRINK_STOP;
}

#define ZIO_SHRINKER_FLAGS \
	(SHRINKER_NUMA_AWARE | SHRINKER_MEMCG_AWARE | SHRINKER_NONSLAB)

/* 6.7 replaced register_shrinker() by shrinker_alloc() and shrinker_register(). */
#ifdef ZIO_HAVE_SHRINKER_ALLOC
static struct shrinker *zio_shrinker;

static int zio_shrinker_start(void)
{
	int ret;

	zio_shrinker = shrinker_alloc(ZIO_SHRINKER_FLAGS, "zio-pooled");
	if (!zio_shrinker)
		return -ENOMEM;
	zio_shrinker->count_objects = zio_reclaim_count;
	zio_shrinker->scan_objects = zio_reclaim_scan;
	ret = list_lru_init_memcg(&zio_reclaim_lru, zio_shrinker);
	if (ret) {
		shrinker_free(zio_shrinker);
		return ret;
	}
	/* Pairs with zio_reclaim_list_ready(). */
	smp_store_release(&zio_reclaim_ready, true);
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
	.flags = ZIO_SHRINKER_FLAGS,
};

/* The list takes the shrinker's id, which registering gives it. */
static int zio_shrinker_start(void)
{
	int ret;

	ret = register_shrinker(&zio_shrinker, "zio-pooled");
	if (ret)
		return ret;
	ret = list_lru_init_memcg(&zio_reclaim_lru, &zio_shrinker);
	if (ret) {
		unregister_shrinker(&zio_shrinker);
		return ret;
	}
	/* Pairs with zio_reclaim_list_ready(). */
	smp_store_release(&zio_reclaim_ready, true);
	return 0;
}

static void zio_shrinker_stop(void)
{
	unregister_shrinker(&zio_shrinker);
}
#endif

/**
 * zio_reclaim_space_alloc() - allocate a zeroed space
 * @memcg: the memory cgroup to charge it to, the one its pages go to
 *
 * Return: the space, or NULL.
 */
struct zio_space *zio_reclaim_space_alloc(struct mem_cgroup *memcg)
{
	struct mem_cgroup *old = set_active_memcg(memcg);
	struct zio_space *space;

	space = kmem_cache_alloc_lru(zio_space_cache, &zio_reclaim_lru,
				     GFP_KERNEL | __GFP_ZERO);
	set_active_memcg(old);
	return space;
}

/**
 * zio_reclaim_space_free() - free a space of zio_reclaim_space_alloc()
 * @space: the space, off the list (zio_reclaim_del())
 */
void zio_reclaim_space_free(struct zio_space *space)
{
	kmem_cache_free(zio_space_cache, space);
}

/**
 * zio_reclaim_add() - let reclaim take what a space keeps
 * @space: the space, its pool and frags initialized
 */
void zio_reclaim_add(struct zio_space *space)
{
	INIT_LIST_HEAD(&space->reclaim_node);
	zio_list_lru_add_obj(&zio_reclaim_lru, &space->reclaim_node);
}

/**
 * zio_reclaim_del() - undo zio_reclaim_add(); no walk sees @space after it
 * @space: the space
 */
void zio_reclaim_del(struct zio_space *space)
{
	zio_list_lru_del_obj(&zio_reclaim_lru, &space->reclaim_node);
}

/**
 * zio_reclaim_register() - let memory reclaim take the pages spaces keep
 *
 * Return: 0 or a negative errno.
 */
int zio_reclaim_register(void)
{
	int ret;

	zio_space_cache = KMEM_CACHE(zio_space, SLAB_ACCOUNT);
	if (!zio_space_cache)
		return -ENOMEM;
	ret = zio_shrinker_start();
	if (ret)
		kmem_cache_destroy(zio_space_cache);
	return ret;
}

/**
 * zio_reclaim_unregister() - undo zio_reclaim_register(), once every space
 *	is gone
 */
void zio_reclaim_unregister(void)
{
	zio_shrinker_stop();
	list_lru_destroy(&zio_reclaim_lru);
	kmem_cache_destroy(zio_space_cache);
}

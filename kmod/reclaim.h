/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory reclaim (reclaim.c): a shrinker gives back the pages spaces keep,
 * and the spaces' memory comes from there.
 */
#ifndef _ZIO_RECLAIM_H
#define _ZIO_RECLAIM_H

struct mem_cgroup;
struct zio_space;

int zio_reclaim_register(void);
void zio_reclaim_unregister(void);
struct zio_space *zio_reclaim_space_alloc(struct mem_cgroup *memcg);
void zio_reclaim_space_free(struct zio_space *space);
void zio_reclaim_add(struct zio_space *space);
void zio_reclaim_del(struct zio_space *space);

#endif /* _ZIO_RECLAIM_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory reclaim (reclaim.c): a shrinker gives back the pages spaces keep.
 */
#ifndef _ZIO_RECLAIM_H
#define _ZIO_RECLAIM_H

int zio_reclaim_register(void);
void zio_reclaim_unregister(void);

#endif /* _ZIO_RECLAIM_H */

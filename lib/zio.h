/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libzio: the explicit API, for programs that use zio without LD_PRELOAD.
 */
#ifndef ZIO_H
#define ZIO_H

#include <linux/zio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Ask the module what it offers. Returns 0, or -errno (-ENOENT: not loaded). */
int zio_get_info(struct zio_info *info);

#ifdef __cplusplus
}
#endif

#endif /* ZIO_H */

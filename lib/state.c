// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The library's global state, read by every layer: the settings (from the
 * environment, at start-up), the thresholds that switch the interposed
 * functions on, and the counters.
 */
#include "internal.h"

struct zio_settings zio_settings = {
	.policy = true,
};
size_t zio_alloc_min = SIZE_MAX;
size_t zio_copy_min = SIZE_MAX;
size_t zio_io_min = SIZE_MAX;
struct zio_counts zio_counts;

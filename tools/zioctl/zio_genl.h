/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small client of the "zio" generic netlink family, on libnl-genl-3:
 * connect, send a request and hand each answer's attributes to a callback,
 * join the events group. Shared by zioctl and selftests/netlink_test.
 *
 * Failures of the local side (libnl) return a negative libnl error code
 * (-NLE_*) and leave in zio_genl.step what failed (NULL: out of memory);
 * the kernel's answer to a request is in zio_genl_req.error.
 */
#ifndef ZIO_GENL_H
#define ZIO_GENL_H

#include <stdbool.h>
#include <stdint.h>

#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

/*
 * Called with a message's attributes (tb[ZIO_ATTR_*]) and command; returns
 * NL_OK, NL_SKIP or NL_STOP.
 */
typedef int (*zio_genl_parse_t)(struct nlattr **tb, uint8_t cmd, void *arg);

struct zio_genl {
	struct nl_sock *sk;
	int family;
	const char *step;	/* what failed, e.g. "cannot send the request" */
	zio_genl_parse_t event;	/* zio_genl_subscribe()'s */
	void *event_arg;
};

struct zio_genl_req {
	zio_genl_parse_t parse;	/* each answer; may be NULL */
	void *arg;
	bool done;
	int error;		/* negative errno from the kernel, or 0 */
	char msg[256];		/* its extack message, if any */
};

/* Connect with extack on and resolve the family (-NLE_OBJ_NOTFOUND: no module). */
int zio_genl_open(struct zio_genl *g);
void zio_genl_close(struct zio_genl *g);
/* A request of @cmd with @flags (NLM_F_DUMP...); NULL when out of memory. */
struct nl_msg *zio_genl_msg(struct zio_genl *g, uint8_t cmd, int flags);
/*
 * Send @msg (freed) and read the answers until the ack, the end of a dump
 * or an error. Returns 0 (the kernel's answer in @req->error) or -NLE_*.
 */
int zio_genl_run(struct zio_genl *g, struct nl_msg *msg, struct zio_genl_req *req);
/*
 * Join the events group: each event goes to @parse, from the socket's
 * default callbacks (nl_recvmsgs_default()). -NLE_PERM without
 * CAP_NET_ADMIN.
 */
int zio_genl_subscribe(struct zio_genl *g, zio_genl_parse_t parse, void *arg);

#endif /* ZIO_GENL_H */

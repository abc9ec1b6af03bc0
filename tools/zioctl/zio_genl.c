// SPDX-License-Identifier: GPL-2.0
/*
 * A small client of the "zio" generic netlink family (see zio_genl.h).
 */
#include <stdio.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <linux/zio.h>
#include <netlink/genl/ctrl.h>

#include "zio_genl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

int zio_genl_open(struct zio_genl *g)
{
	int one = 1, ret;

	g->step = NULL;
	g->family = -1;
	g->sk = nl_socket_alloc();
	if (!g->sk)
		return -NLE_NOMEM;
	ret = genl_connect(g->sk);
	if (ret < 0) {
		g->step = "cannot open a generic netlink socket";
		return ret;
	}
	/* Error messages from the kernel's policy checks (extack). */
	setsockopt(nl_socket_get_fd(g->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	g->family = genl_ctrl_resolve(g->sk, ZIO_GENL_NAME);
	if (g->family < 0) {
		g->step = "cannot resolve the zio netlink family";
		return g->family;
	}
	return 0;
}

void zio_genl_close(struct zio_genl *g)
{
	nl_socket_free(g->sk);
	g->sk = NULL;
}

struct nl_msg *zio_genl_msg(struct zio_genl *g, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (msg && !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, g->family, 0,
				flags, cmd, ZIO_GENL_VERSION)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	if (!msg)
		g->step = NULL;
	return msg;
}

/* Parse a message of the family; NL_SKIP when it is malformed. */
static int parse(struct nl_msg *msg, zio_genl_parse_t fn, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct genlmsghdr *gnlh = nlmsg_data(nlh);
	struct nlattr *tb[ZIO_ATTR_MAX + 1];

	if (genlmsg_parse(nlh, 0, tb, ZIO_ATTR_MAX, NULL) < 0)
		return NL_SKIP;
	return fn ? fn(tb, gnlh->cmd, arg) : NL_OK;
}

static int req_valid(struct nl_msg *msg, void *arg)
{
	struct zio_genl_req *req = arg;

	return parse(msg, req->parse, req->arg);
}

static int req_finish(struct nl_msg *msg, void *arg)
{
	struct zio_genl_req *req = arg;

	(void)msg;
	req->done = true;
	return NL_STOP;
}

/* The kernel's error, and the extack message after the original request. */
static int req_error(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)err - NLMSG_HDRLEN);
	struct zio_genl_req *req = arg;
	struct nlattr *attr;
	size_t off;
	int len, rem;

	(void)nla;
	req->done = true;
	req->error = err->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	off = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - NLMSG_HDRLEN;
	len = (int)(nlh->nlmsg_len - NLMSG_HDRLEN - off);
	if (len <= 0)
		return NL_STOP;
	nla_for_each_attr(attr, (struct nlattr *)((char *)err + off), len, rem) {
		if (nla_type(attr) == NLMSGERR_ATTR_MSG)
			snprintf(req->msg, sizeof(req->msg), "%.*s",
				 nla_len(attr), (char *)nla_data(attr));
	}
	return NL_STOP;
}

int zio_genl_run(struct zio_genl *g, struct nl_msg *msg, struct zio_genl_req *req)
{
	struct nl_cb *cb;
	int ret;

	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		nlmsg_free(msg);
		g->step = NULL;
		return -NLE_NOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, req_valid, req);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, req_finish, req);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, req_finish, req);
	nl_cb_err(cb, NL_CB_CUSTOM, req_error, req);

	ret = nl_send_auto(g->sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		g->step = "cannot send the request";
		goto out;
	}
	ret = 0;
	while (!req->done) {
		ret = nl_recvmsgs(g->sk, cb);
		if (ret < 0 && !req->done) {
			g->step = "cannot read the answer";
			goto out;
		}
	}
	ret = 0;
out:
	nl_cb_put(cb);
	return ret;
}

static int event_valid(struct nl_msg *msg, void *arg)
{
	struct zio_genl *g = arg;

	return parse(msg, g->event, g->event_arg);
}

int zio_genl_subscribe(struct zio_genl *g, zio_genl_parse_t fn, void *arg)
{
	int grp, ret;

	grp = genl_ctrl_resolve_grp(g->sk, ZIO_GENL_NAME, ZIO_GENL_MCGRP_EVENTS);
	if (grp < 0) {
		g->step = "cannot find the events group";
		return grp;
	}
	ret = nl_socket_add_membership(g->sk, grp);
	if (ret < 0) {
		g->step = "cannot join the events group";
		return ret;
	}
	g->event = fn;
	g->event_arg = arg;
	nl_socket_disable_seq_check(g->sk);
	nl_socket_modify_cb(g->sk, NL_CB_VALID, NL_CB_CUSTOM, event_valid, g);
	return 0;
}

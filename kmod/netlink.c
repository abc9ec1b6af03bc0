// SPDX-License-Identifier: GPL-2.0
/*
 * The "zio" generic netlink family: statistics, settings and events.
 *
 * Reading the module's counters is open to everyone. The dump of the
 * spaces shows an unprivileged caller only the spaces of processes of its
 * own real uid; CAP_NET_ADMIN sees them all. Changing a setting needs
 * CAP_NET_ADMIN (GENL_ADMIN_PERM), and so does listening to the events,
 * which name other users' processes.
 *
 * resv_start_op is left at 0: every command is validated strictly against
 * the family's policy, unknown attributes and trailing bytes are errors.
 * The family lives in the initial network namespace only: spaces, pids and
 * uids are not per namespace.
 */
#include <linux/cred.h>
#include <linux/overflow.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "netlink.h"
#include "params.h"
#include "space.h"
#include "stats.h"

enum zio_mcgrp {
	ZIO_MCGRP_EVENTS,
};

static const struct genl_multicast_group zio_mcgrps[] = {
	[ZIO_MCGRP_EVENTS] = {
		.name = ZIO_GENL_MCGRP_EVENTS,
		/* Events name processes of every user. */
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

#define ZIO_OUTPUT_ONLY(what) {						\
	.type = NLA_REJECT,						\
	.reject_message = what " is output only",			\
}

static const struct nla_policy zio_policy[ZIO_ATTR_MAX + 1] = {
	[ZIO_ATTR_PAD]			= { .type = NLA_REJECT },
	[ZIO_ATTR_SPACE_LIMIT]		= NLA_POLICY_MIN(NLA_U64, PAGE_SIZE),
	[ZIO_ATTR_ENABLED]		= NLA_POLICY_MAX(NLA_U8, 1),
	[ZIO_ATTR_COPY_THRESHOLD]	= NLA_POLICY_MIN(NLA_U64, PAGE_SIZE),
	[ZIO_ATTR_MAX_RECORDS]		= NLA_POLICY_MAX(NLA_U32, ZIO_MAX_RECORDS_MAX),
	[ZIO_ATTR_PAGE_SIZE]		= ZIO_OUTPUT_ONLY("page_size"),
	[ZIO_ATTR_NR_SPACES]		= ZIO_OUTPUT_ONLY("nr_spaces"),
	[ZIO_ATTR_COUNTERS]		= ZIO_OUTPUT_ONLY("counters"),
	[ZIO_ATTR_SPACE_ID]		= ZIO_OUTPUT_ONLY("space_id"),
	[ZIO_ATTR_PID]			= ZIO_OUTPUT_ONLY("pid"),
	[ZIO_ATTR_UID]			= ZIO_OUTPUT_ONLY("uid"),
	[ZIO_ATTR_PARENT_PID]		= ZIO_OUTPUT_ONLY("parent_pid"),
	[ZIO_ATTR_MMAP_END]		= ZIO_OUTPUT_ONLY("mmap_end"),
	[ZIO_ATTR_MAX_PAGES]		= NLA_POLICY_MIN(NLA_U64, 1),
};

static struct genl_family zio_nl_family;

/* The counters of zio_counter_defs[], and a space's number of records. */
static int zio_put_counters(struct sk_buff *msg, const struct zio_counters *c,
			    const u64 *records)
{
	struct nlattr *nest;
	unsigned int i;

	nest = nla_nest_start(msg, ZIO_ATTR_COUNTERS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < ZIO_NR_COUNTERS; i++) {
		const struct zio_counter_def *def = &zio_counter_defs[i];

		if (nla_put_u64_64bit(msg, def->attr, zio_counter_value(c, def),
				      ZIO_COUNTER_PAD))
			goto out_cancel_nest;
	}
	if (records && nla_put_u64_64bit(msg, ZIO_COUNTER_RECORDS, *records,
					 ZIO_COUNTER_PAD))
		goto out_cancel_nest;
	nla_nest_end(msg, nest);
	return 0;

out_cancel_nest:
	nla_nest_cancel(msg, nest);
	return -EMSGSIZE;
}

static int zio_stats_fill(struct sk_buff *msg, u32 portid, u32 seq)
{
	struct zio_counters c;
	void *hdr;

	hdr = genlmsg_put(msg, portid, seq, &zio_nl_family, 0, ZIO_CMD_GET_STATS);
	if (!hdr)
		return -EMSGSIZE;

	zio_global_counters(&c);
	if (nla_put_u64_64bit(msg, ZIO_ATTR_SPACE_LIMIT,
			      READ_ONCE(zio_space_limit), ZIO_ATTR_PAD) ||
	    nla_put_u8(msg, ZIO_ATTR_ENABLED, READ_ONCE(zio_enabled)) ||
	    nla_put_u64_64bit(msg, ZIO_ATTR_COPY_THRESHOLD,
			      READ_ONCE(zio_copy_threshold), ZIO_ATTR_PAD) ||
	    nla_put_u32(msg, ZIO_ATTR_MAX_RECORDS, READ_ONCE(zio_max_records)) ||
	    nla_put_u64_64bit(msg, ZIO_ATTR_MAX_PAGES,
			      READ_ONCE(zio_max_pages), ZIO_ATTR_PAD) ||
	    nla_put_u32(msg, ZIO_ATTR_PAGE_SIZE, PAGE_SIZE) ||
	    nla_put_u32(msg, ZIO_ATTR_NR_SPACES, zio_spaces_nr()) ||
	    zio_put_counters(msg, &c, NULL)) {
		genlmsg_cancel(msg, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return 0;
}

static int zio_nl_get_stats_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	int ret;

	msg = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	ret = zio_stats_fill(msg, info->snd_portid, info->snd_seq);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);
}

struct zio_dump_ctx {
	struct sk_buff *msg;
	struct netlink_callback *cb;
	kuid_t uid;		/* of the caller */
	bool all;		/* CAP_NET_ADMIN: every user's spaces */
	u64 last;		/* the last space id in the message */
};

/* Called under zio_spaces_lock, see zio_spaces_walk(). */
static int zio_space_fill(const struct zio_space_info *si, void *arg)
{
	struct zio_dump_ctx *ctx = arg;
	struct sk_buff *msg = ctx->msg;
	void *hdr;

	if (!ctx->all && !uid_eq(si->uid, ctx->uid)) {
		ctx->last = si->id;
		return 0;
	}

	hdr = genlmsg_put(msg, NETLINK_CB(ctx->cb->skb).portid,
			  ctx->cb->nlh->nlmsg_seq, &zio_nl_family, NLM_F_MULTI,
			  ZIO_CMD_GET_SPACE);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(msg, ZIO_ATTR_SPACE_ID, si->id, ZIO_ATTR_PAD) ||
	    nla_put_u32(msg, ZIO_ATTR_PID, si->pid) ||
	    (uid_valid(si->uid) &&
	     nla_put_u32(msg, ZIO_ATTR_UID,
			 from_kuid_munged(&init_user_ns, si->uid))) ||
	    zio_put_counters(msg, &si->counters, &si->records)) {
		genlmsg_cancel(msg, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	ctx->last = si->id;
	return 0;
}

/*
 * cb->args[0] is the id of the last space reported: the next part of the
 * dump starts after it. Ids grow along the list of spaces.
 */
static int zio_nl_get_space_dumpit(struct sk_buff *msg,
				   struct netlink_callback *cb)
{
	struct zio_dump_ctx ctx = {
		.msg = msg,
		.cb = cb,
		.uid = NETLINK_CB(cb->skb).creds.uid,
		.all = netlink_capable(cb->skb, CAP_NET_ADMIN),
		.last = cb->args[0],
	};
	int ret;

	ret = zio_spaces_walk(cb->args[0], task_active_pid_ns(current),
			      zio_space_fill, &ctx);
	cb->args[0] = ctx.last;
	/* A space too big for an empty message cannot happen: stop anyway. */
	if (ret && !msg->len)
		return ret;
	return msg->len;
}

/* Every setting of @tb fits; else -EINVAL with the reason in @extack. */
static int zio_nl_set_check(struct nlattr **tb, struct netlink_ext_ack *extack)
{
	struct nlattr *attr;

	attr = tb[ZIO_ATTR_SPACE_LIMIT];
	if (attr && !PAGE_ALIGNED(nla_get_u64(attr))) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "space_limit must be a multiple of the page size");
		return -EINVAL;
	}
	attr = tb[ZIO_ATTR_COPY_THRESHOLD];
	if (attr && nla_get_u64(attr) > MAX_LFS_FILESIZE) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "copy_threshold is beyond any mapping");
		return -EINVAL;
	}
	/* max_pages is an unsigned long: 32 bits on 32-bit kernels. */
	attr = tb[ZIO_ATTR_MAX_PAGES];
	if (attr && (unsigned long)nla_get_u64(attr) != nla_get_u64(attr)) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "max_pages is beyond an unsigned long");
		return -EINVAL;
	}
	if (!tb[ZIO_ATTR_SPACE_LIMIT] && !tb[ZIO_ATTR_ENABLED] &&
	    !tb[ZIO_ATTR_COPY_THRESHOLD] && !tb[ZIO_ATTR_MAX_RECORDS] &&
	    !tb[ZIO_ATTR_MAX_PAGES]) {
		NL_SET_ERR_MSG(extack, "no setting to change");
		return -EINVAL;
	}
	return 0;
}

/* Change the settings of @tb, all checked. */
static void zio_nl_set_apply(struct nlattr **tb)
{
	if (tb[ZIO_ATTR_SPACE_LIMIT])
		WRITE_ONCE(zio_space_limit, nla_get_u64(tb[ZIO_ATTR_SPACE_LIMIT]));
	if (tb[ZIO_ATTR_ENABLED])
		WRITE_ONCE(zio_enabled, nla_get_u8(tb[ZIO_ATTR_ENABLED]));
	if (tb[ZIO_ATTR_COPY_THRESHOLD])
		WRITE_ONCE(zio_copy_threshold,
			   nla_get_u64(tb[ZIO_ATTR_COPY_THRESHOLD]));
	if (tb[ZIO_ATTR_MAX_RECORDS])
		WRITE_ONCE(zio_max_records,
			   nla_get_u32(tb[ZIO_ATTR_MAX_RECORDS]));
	if (tb[ZIO_ATTR_MAX_PAGES])
		WRITE_ONCE(zio_max_pages, nla_get_u64(tb[ZIO_ATTR_MAX_PAGES]));
}

/* All checked before any changes. Set commands are serialized by genl. */
static int zio_nl_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	int ret;

	ret = zio_nl_set_check(info->attrs, info->extack);
	if (ret)
		return ret;
	zio_nl_set_apply(info->attrs);
	return 0;
}

static const struct genl_small_ops zio_nl_ops[] = {
	{
		.cmd = ZIO_CMD_GET_STATS,
		.doit = zio_nl_get_stats_doit,
		/* open to everyone: module-wide numbers only */
	},
	{
		.cmd = ZIO_CMD_GET_SPACE,
		.dumpit = zio_nl_get_space_dumpit,
		/* unprivileged callers see their own uid's spaces */
	},
	{
		.cmd = ZIO_CMD_SET,
		.doit = zio_nl_set_doit,
		.flags = GENL_ADMIN_PERM,
	},
};

static struct genl_family zio_nl_family __ro_after_init = {
	.name		= ZIO_GENL_NAME,
	.version	= ZIO_GENL_VERSION,
	.maxattr	= ZIO_ATTR_MAX,
	.policy		= zio_policy,
	.module		= THIS_MODULE,
	.small_ops	= zio_nl_ops,
	.n_small_ops	= ARRAY_SIZE(zio_nl_ops),
	.mcgrps		= zio_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(zio_mcgrps),
};

static bool zio_has_listeners(void)
{
	return genl_has_listeners(&zio_nl_family, &init_net, ZIO_MCGRP_EVENTS);
}

static void zio_notify(struct sk_buff *msg)
{
	genlmsg_multicast(&zio_nl_family, msg, 0, ZIO_MCGRP_EVENTS, GFP_KERNEL);
}

/**
 * zio_notify_space() - tell listeners that a space was created or freed
 * @space: the space
 * @cmd: ZIO_CMD_SPACE_NEW or ZIO_CMD_SPACE_DEL
 *
 * Might sleep. A space created by fork() has no pid yet: its event names
 * the parent. A space freed at exit has lost its owner: its event names
 * the process freeing it, which is the one exiting.
 */
void zio_notify_space(struct zio_space *space, u8 cmd)
{
	struct sk_buff *msg;
	pid_t pid, ppid = 0;
	kuid_t uid;
	void *hdr;

	if (!zio_has_listeners())
		return;

	zio_space_owner(space, &init_pid_ns, &pid, &uid);
	if (cmd == ZIO_CMD_SPACE_NEW && current->mm != space->mm) {
		ppid = task_tgid_nr(current);
	} else if (!pid) {
		pid = task_tgid_nr(current);
		uid = current_uid();
	}

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &zio_nl_family, 0, cmd);
	if (!hdr)
		goto out_free_msg;
	if (nla_put_u64_64bit(msg, ZIO_ATTR_SPACE_ID, space->id, ZIO_ATTR_PAD) ||
	    nla_put_u32(msg, ZIO_ATTR_PID, pid) ||
	    (uid_valid(uid) &&
	     nla_put_u32(msg, ZIO_ATTR_UID, from_kuid(&init_user_ns, uid))) ||
	    (ppid && nla_put_u32(msg, ZIO_ATTR_PARENT_PID, ppid)))
		goto out_free_msg;
	genlmsg_end(msg, hdr);
	zio_notify(msg);
	return;

out_free_msg:
	nlmsg_free(msg);
}

/**
 * zio_notify_limit() - tell listeners that space_limit refused an mmap()
 * @vma: the VMA being mapped, by the current process
 */
void zio_notify_limit(struct vm_area_struct *vma)
{
	struct sk_buff *msg;
	u64 end;
	void *hdr;

	if (!zio_has_listeners())
		return;

	if (check_add_overflow((u64)vma->vm_pgoff, (u64)vma_pages(vma), &end) ||
	    check_shl_overflow(end, PAGE_SHIFT, &end))
		end = U64_MAX;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &zio_nl_family, 0, ZIO_CMD_LIMIT);
	if (!hdr)
		goto out_free_msg;
	if (nla_put_u32(msg, ZIO_ATTR_PID, task_tgid_nr(current)) ||
	    nla_put_u32(msg, ZIO_ATTR_UID,
			from_kuid(&init_user_ns, current_uid())) ||
	    nla_put_u64_64bit(msg, ZIO_ATTR_MMAP_END, end, ZIO_ATTR_PAD) ||
	    nla_put_u64_64bit(msg, ZIO_ATTR_SPACE_LIMIT,
			      READ_ONCE(zio_space_limit), ZIO_ATTR_PAD))
		goto out_free_msg;
	genlmsg_end(msg, hdr);
	zio_notify(msg);
	return;

out_free_msg:
	nlmsg_free(msg);
}

/**
 * zio_netlink_register() - register the "zio" generic netlink family
 *
 * Return: 0 or a negative errno from genl_register_family().
 */
int zio_netlink_register(void)
{
	return genl_register_family(&zio_nl_family);
}

/**
 * zio_netlink_unregister() - unregister the family
 */
void zio_netlink_unregister(void)
{
	genl_unregister_family(&zio_nl_family);
}

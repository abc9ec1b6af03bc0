/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels zio supports (6.1 and 6.12). Kbuild
 * detects each feature in the headers it builds against (kmod/Kbuild).
 */
#ifndef _ZIO_COMPAT_H
#define _ZIO_COMPAT_H

#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>

/* 6.3 made vma->vm_flags read-only behind helpers. */
#ifdef ZIO_HAVE_VM_FLAGS_SET
#define zio_vm_flags_set(vma, flags)	vm_flags_set(vma, flags)
#else
static inline void zio_vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
	vma->vm_flags |= flags;
}
#endif

/* page_mapcount() went away with the move to folios. */
#ifdef ZIO_HAVE_PAGE_MAPCOUNT
static inline int zio_page_mapcount(struct page *page)
{
	return page_mapcount(page);
}
#else
static inline int zio_page_mapcount(struct page *page)
{
	return folio_mapcount(page_folio(page));
}
#endif

/*
 * Pages zio holds for a process count in its RSS, as shmem pages: the OOM
 * killer then sees who holds them. add_mm_counter() calls a tracepoint
 * helper that is not exported, so zio adds to the counter itself: an
 * atomic until 6.1, a percpu_counter since 6.2.
 */
#include <linux/mm_types.h>
#include <linux/percpu_counter.h>

#ifdef ZIO_HAVE_PERCPU_RSS_STAT
static inline void zio_mm_add_rss(struct mm_struct *mm, long n)
{
	percpu_counter_add(&mm->rss_stat[MM_SHMEMPAGES], n);
}
#else
static inline void zio_mm_add_rss(struct mm_struct *mm, long n)
{
	atomic_long_add(n, &mm->rss_stat.count[MM_SHMEMPAGES]);
}
#endif

/*
 * vfs_iter_write() takes the superblock's freeze protection itself since
 * 6.7, which also brought file_write_not_started().
 */
#ifdef ZIO_HAVE_FILE_WRITE_NOT_STARTED
static inline void zio_file_start_write(struct file *file)
{
}

static inline void zio_file_end_write(struct file *file)
{
}
#else
#define zio_file_start_write(file)	file_start_write(file)
#define zio_file_end_write(file)	file_end_write(file)
#endif

/*
 * Sending pages by reference rather than by copy: kernel_sendpage() until
 * 6.5, sendmsg() with MSG_SPLICE_PAGES since (6.1 stable defines the flag
 * but its TCP does not act on it).
 */
#ifdef ZIO_HAVE_KERNEL_SENDPAGE
/* sendpage() drops these flags, which sendmsg() acts on. */
#define ZIO_SEND_PAGES_IGNORES	MSG_EOR

#include <net/inet_common.h>
#include <net/sock.h>
#include <net/tcp.h>

/* Plain TCP, IPv4 or IPv6: no ULP such as kTLS, no sockmap. */
static inline bool zio_sock_plain_tcp(struct socket *sock)
{
	return READ_ONCE(sock->ops)->sendpage == inet_sendpage &&
	       READ_ONCE(sock->sk->sk_prot)->sendpage == tcp_sendpage;
}

static inline int zio_sock_send_pages(struct socket *sock, struct bio_vec *bvec,
				      unsigned int nr, size_t len, int flags)
{
	struct msghdr msg = { .msg_flags = flags };
	int ret = 0, sent = 0;
	bool plain_tcp;
	unsigned int i;

	/*
	 * kernel_sendpage() goes straight to the protocol, past the LSM hook
	 * and everything else sock_sendmsg() checks, and that hook is not
	 * exported: an empty sendmsg() passes the same checks as write()
	 * first. TCP sends nothing for it.
	 */
	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, NULL, 0, 0);
	ret = sock_sendmsg(sock, &msg);
	if (ret < 0)
		return ret;

	/*
	 * kernel_sendpage() takes the socket lock for each page. Plain TCP
	 * gets them under one, while it stays plain: TCP drops the lock
	 * while it waits for memory, and a ULP may come in meanwhile.
	 */
	plain_tcp = zio_sock_plain_tcp(sock);
	if (plain_tcp)
		lock_sock(sock->sk);
	for (i = 0; i < nr; i++) {
		int more = i + 1 < nr ? MSG_SENDPAGE_NOTLAST : 0;

		if (plain_tcp && !zio_sock_plain_tcp(sock)) {
			release_sock(sock->sk);
			plain_tcp = false;
		}
		if (plain_tcp)
			ret = tcp_sendpage_locked(sock->sk, bvec[i].bv_page,
						  bvec[i].bv_offset,
						  bvec[i].bv_len, flags | more);
		else
			ret = kernel_sendpage(sock, bvec[i].bv_page,
					      bvec[i].bv_offset, bvec[i].bv_len,
					      flags | more);
		if (ret <= 0)
			break;
		sent += ret;
		if (ret < bvec[i].bv_len)
			break;
	}
	if (plain_tcp)
		release_sock(sock->sk);
	return sent ? sent : ret;
}
#else
#define ZIO_SEND_PAGES_IGNORES	0

static inline int zio_sock_send_pages(struct socket *sock, struct bio_vec *bvec,
				      unsigned int nr, size_t len, int flags)
{
	struct msghdr msg = { .msg_flags = flags | MSG_SPLICE_PAGES };

	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, bvec, nr, len);
	return sock_sendmsg(sock, &msg);
}
#endif

/*
 * Putting a slab object on a memcg-aware list_lru, in the list of the
 * cgroup its memory is charged to: list_lru_add() until 6.8, which gave
 * list_lru_add() a node and a cgroup and named this list_lru_add_obj().
 */
#include <linux/list_lru.h>

static inline bool zio_list_lru_add_obj(struct list_lru *lru,
					struct list_head *item)
{
#ifdef ZIO_HAVE_LIST_LRU_ADD_OBJ
	return list_lru_add_obj(lru, item);
#else
	return list_lru_add(lru, item);
#endif
}

static inline bool zio_list_lru_del_obj(struct list_lru *lru,
					struct list_head *item)
{
#ifdef ZIO_HAVE_LIST_LRU_ADD_OBJ
	return list_lru_del_obj(lru, item);
#else
	return list_lru_del(lru, item);
#endif
}

#endif /* _ZIO_COMPAT_H */

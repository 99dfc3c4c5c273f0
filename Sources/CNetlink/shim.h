// The C surface of the project: libnl-3, libnl-genl-3 and the kernel's IPVS ABI.
// Only the `IPVS` Swift module imports this header.
#ifndef CNETLINK_SHIM_H
#define CNETLINK_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/errno.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

// glibc declares these only under _GNU_SOURCE, which would make this module's libc types differ from Swift's.
#ifndef CLONE_NEWNET
#define CLONE_NEWNET 0x40000000
#endif
extern int setns(int fd, int nstype);
extern int unshare(int flags);

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

// Macros with casts or expressions do not import into Swift; re-export them as constants.
static const int cnl_sol_netlink = SOL_NETLINK;
static const int cnl_genl_hdrlen = GENL_HDRLEN;
static const int cnl_ipvs_genl_version = IPVS_GENL_VERSION;
static const char *const cnl_ipvs_genl_name = IPVS_GENL_NAME;

// Network namespaces are per thread, and a socket (netlink, or libnftables' inside its context) stays in the
// namespace it was created in, as does a /proc/sys/net file. cnl_in_netns runs `work` on a short-lived
// thread that entered the namespace first, so the caller's threads never change namespace. Swift supplies
// `work` (a C function pointer taking a context) and does everything else itself.

struct cnl_netns_call {
    int nsfd;                 // in: namespace to enter, or -1 to create a fresh one (unshare)
    void (*work)(void *arg);  // in: run inside the namespace once entered
    void *arg;                // in: passed to work
    int sys_errno;            // out: errno of a failed setns/unshare/pthread_create, else 0 (then work ran)
};

static void *cnl_netns_thread(void *arg) {
    struct cnl_netns_call *call = (struct cnl_netns_call *)arg;
    if (call->nsfd >= 0 ? setns(call->nsfd, CLONE_NEWNET) : unshare(CLONE_NEWNET)) {
        call->sys_errno = errno;
        return NULL;
    }
    call->work(call->arg);
    return NULL;
}

/// Runs `call` on a new thread and waits for it.
static inline void cnl_in_netns(struct cnl_netns_call *call) {
    call->sys_errno = 0;
    pthread_t thread;
    int err = pthread_create(&thread, NULL, cnl_netns_thread, call);
    if (err != 0) { call->sys_errno = err; return; }
    pthread_join(thread, NULL);
}

// Host network (HostNetwork.swift): links, addresses and sysctls over NETLINK_ROUTE (libnl-route-3).
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
#include <net/if.h>
#include <linux/if_addr.h>

static const unsigned int cnl_iff_up = IFF_UP;
static const unsigned int cnl_ifa_f_nodad = IFA_F_NODAD;
static const unsigned char cnl_rt_scope_link = RT_SCOPE_LINK;
static const unsigned char cnl_rt_scope_host = RT_SCOPE_HOST;
static const unsigned int cnl_rt_table_local = RT_TABLE_LOCAL;
static const unsigned char cnl_rtn_local = RTN_LOCAL;
// A local route request written without libnl (RouteSocket+LocalRoutes.swift batches them).
static const unsigned short cnl_rtm_newroute = RTM_NEWROUTE;
static const unsigned short cnl_rta_dst = RTA_DST;
static const unsigned short cnl_rta_oif = RTA_OIF;
static const unsigned short cnl_rta_prefsrc = RTA_PREFSRC;
static const unsigned short cnl_rta_table = RTA_TABLE;
static const unsigned short cnl_nlm_f_create = NLM_F_CREATE;

// Local routes (RouteSocket+LocalRoutes.swift): one family's routes of type local in the local table through
// one interface with one protocol, as a dump the kernel filters (NETLINK_GET_STRICT_CHK, Linux 4.20 and later:
// table, protocol, type and output interface in the request) and read one message at a time: the cost no
// longer grows with the host's other routes (a BGP full table is about a million; libnl's route cache held
// every one of them at each full resync). Each route is checked here too, so a kernel that ignores the filter
// (or a request sent with `strict` 0, the caller's fallback when strict checking refuses it) gives the same
// answer, only slower.
struct cnl_local_routes {
    unsigned char family;    // in: AF_INET or AF_INET6
    unsigned char protocol;  // in: the routes' protocol
    int ifindex;             // in: the routes' output interface
    int strict;              // in: ask the kernel to filter
    void (*found)(void *arg, const void *address, int length);  // in: called with each match's destination
    void *arg;               // in: passed to found
    int seen;                // out: route messages read (the kernel's filter at work: only the matches)
};

static int cnl_local_route_valid(struct nl_msg *msg, void *arg) {
    struct cnl_local_routes *query = (struct cnl_local_routes *)arg;
    struct rtnl_route *route = NULL;
    query->seen += 1;
    if (rtnl_route_parse(nlmsg_hdr(msg), &route) < 0 || !route) return NL_SKIP;
    struct nl_addr *dst = rtnl_route_get_dst(route);
    struct rtnl_nexthop *hop = rtnl_route_get_nnexthops(route) == 1 ? rtnl_route_nexthop_n(route, 0) : NULL;
    if (rtnl_route_get_table(route) == RT_TABLE_LOCAL && rtnl_route_get_type(route) == RTN_LOCAL
        && rtnl_route_get_protocol(route) == query->protocol && hop && rtnl_route_nh_get_ifindex(hop) == query->ifindex
        && dst && nl_addr_get_family(dst) == query->family && nl_addr_get_prefixlen(dst) == nl_addr_get_len(dst) * 8) {
        query->found(query->arg, nl_addr_get_binary_addr(dst), (int)nl_addr_get_len(dst));
    }
    rtnl_route_put(route);
    return NL_OK;
}

/// Returns 0, or a negative libnl error (-NLE_DUMP_INTR when the routes changed during the dump: retry).
static inline int cnl_dump_local_routes(struct nl_sock *sock, struct cnl_local_routes *query) {
    int fd = nl_socket_get_fd(sock);
    int on = 1, off = 0;
    // libnl's cache dumps on the same socket send headers strict checking refuses: on for this one only.
    if (query->strict) (void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof on);
    struct rtmsg header = {
        .rtm_family = query->family,
        .rtm_table = RT_TABLE_LOCAL,
        .rtm_protocol = query->protocol,
        .rtm_type = RTN_LOCAL,
    };
    struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_DUMP);
    int err = msg ? 0 : -NLE_NOMEM;
    if (err == 0) err = nlmsg_append(msg, &header, sizeof header, NLMSG_ALIGNTO);
    if (err == 0 && query->strict) err = nla_put_u32(msg, RTA_OIF, (uint32_t)query->ifindex);
    if (err == 0) err = nl_send_auto(sock, msg);
    if (msg) nlmsg_free(msg);
    if (err >= 0) {
        struct nl_cb *base = nl_socket_get_cb(sock);
        struct nl_cb *cb = base ? nl_cb_clone(base) : NULL;
        if (base) nl_cb_put(base);
        if (!cb) {
            err = -NLE_NOMEM;
        } else {
            nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, cnl_local_route_valid, query);
            err = nl_recvmsgs(sock, cb);
            nl_cb_put(cb);
        }
    }
    if (query->strict) (void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &off, sizeof off);
    return err < 0 ? err : 0;
}

// Packet filter (PacketFilter.swift): the agent's own nftables table through libnftables, whose context
// binds its netlink socket to the namespace of the thread that creates it (so it is created in cnl_in_netns).
#include <stdlib.h>
#include <string.h>
#include <nftables/libnftables.h>

// Set elements (PacketFilter+Elements.swift) go to the kernel as nftables' own netlink messages, built by
// libnftnl and sent with libmnl (both under nft itself): libnftables would parse each element from text, about
// 90 µs an element under emulation, 100,000 of them on a first sync at 10k Services x 10.
#include <limits.h>
#include <sys/time.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static const unsigned short cnl_nfproto_inet = NFPROTO_INET;

// One set's elements to add or delete: `count` keys of `key_len` bytes at `key_offset` of the transaction's keys,
// the set's name at `name_offset` of its names (NUL-terminated).
struct cnl_nft_elements {
    unsigned int name_offset;
    int delete_elements;
    unsigned int key_offset;
    unsigned int key_len;
    unsigned int count;
};

// Elements per netlink message: a message's element list is one attribute, whose length is 16 bits (64 KiB);
// 256 of the largest key here (IPv6 hairpin, 40 bytes, 52 with its attribute headers) take 13 KiB.
#define CNL_NFT_ELEMENTS_PER_MESSAGE 256

// Sends `ops` as one nftables transaction (a batch, one sendmsg) on a new netfilter socket of the calling
// thread's network namespace, every message asking for an acknowledgement, and reads the answers. The kernel
// processes a batch inside sendmsg, so every answer is queued when it returns; a short receive timeout only
// guards against a kernel that answers less than it should.
// Returns 0, or a negative errno (the first failing message's, with its operation's index in *failed_op, or
// UINT_MAX when the socket or the memory failed).
static inline int cnl_nft_elements_transaction(
    unsigned short family, const char *table, const char *names, const unsigned char *keys,
    const struct cnl_nft_elements *ops, unsigned int nops, unsigned int *failed_op) {
    *failed_op = UINT_MAX;
    size_t messages = 0, size = 2 * MNL_ALIGN(sizeof(struct nlmsghdr) + sizeof(struct nfgenmsg));
    for (unsigned int i = 0; i < nops; i++) {
        size_t parts = (ops[i].count + CNL_NFT_ELEMENTS_PER_MESSAGE - 1) / CNL_NFT_ELEMENTS_PER_MESSAGE;
        messages += parts;
        // Header, table and set names, the list's attribute; each element: three nested attribute headers
        // (list element, key, value) around its padded key.
        size += parts * (64 + MNL_ALIGN(strlen(table) + 1) + MNL_ALIGN(strlen(names + ops[i].name_offset) + 1));
        size += (size_t)ops[i].count * (3 * MNL_ATTR_HDRLEN + MNL_ALIGN(ops[i].key_len));
    }
    if (messages == 0) return 0;
    if (messages > UINT_MAX / 2) return -EMSGSIZE;
    char *buf = calloc(1, size);
    if (!buf) return -ENOMEM;
    unsigned int *op_of_seq = calloc(messages, sizeof *op_of_seq);
    struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
    int err = 0;
    if (!op_of_seq || !nl) {
        err = !op_of_seq ? -ENOMEM : -errno;
        goto out;
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        err = -errno;
        goto out;
    }
    int one = 1;
    // Errors carry only the failing message's header, not its 13 KiB of elements.
    (void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof one);
    int fd = mnl_socket_get_fd(nl);
    // One sendmsg carries the whole batch: the send buffer must hold it (CAP_NET_ADMIN may exceed wmem_max).
    int wanted = (int)(size + 4096);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &wanted, sizeof wanted) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &wanted, sizeof wanted);
    struct timeval timeout = {.tv_sec = 10};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    // Sequence numbers: the batch's begin is 0, message k is k + 1, its end messages + 1.
    size_t used = 0;
    struct nlmsghdr *nlh = nftnl_batch_begin(buf, 0);
    used += nlh->nlmsg_len;
    unsigned int seq = 1;
    for (unsigned int i = 0; i < nops && !err; i++) {
        const char *name = names + ops[i].name_offset;
        for (unsigned int first = 0; first < ops[i].count && !err; first += CNL_NFT_ELEMENTS_PER_MESSAGE) {
            unsigned int n = ops[i].count - first;
            if (n > CNL_NFT_ELEMENTS_PER_MESSAGE) n = CNL_NFT_ELEMENTS_PER_MESSAGE;
            struct nftnl_set *set = nftnl_set_alloc();
            if (!set) {
                err = -ENOMEM;
                break;
            }
            nftnl_set_set_str(set, NFTNL_SET_TABLE, table);
            nftnl_set_set_str(set, NFTNL_SET_NAME, name);
            for (unsigned int k = first; k < first + n && !err; k++) {
                struct nftnl_set_elem *elem = nftnl_set_elem_alloc();
                if (!elem) {
                    err = -ENOMEM;
                    break;
                }
                nftnl_set_elem_set(elem, NFTNL_SET_ELEM_KEY, keys + ops[i].key_offset + (size_t)k * ops[i].key_len,
                                   ops[i].key_len);
                nftnl_set_elem_add(set, elem);
            }
            if (!err) {
                uint16_t type = ops[i].delete_elements ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM;
                uint16_t flags = NLM_F_ACK | (ops[i].delete_elements ? 0 : NLM_F_CREATE);
                op_of_seq[seq - 1] = i;
                nlh = nftnl_nlmsg_build_hdr(buf + used, type, family, flags, seq++);
                nftnl_set_elems_nlmsg_build_payload(nlh, set);
                used += MNL_ALIGN(nlh->nlmsg_len);
            }
            nftnl_set_free(set);
        }
    }
    if (err) goto out;
    nlh = nftnl_batch_end(buf + used, seq);
    used += nlh->nlmsg_len;
    if (mnl_socket_sendto(nl, buf, used) < 0) {
        err = -errno;
        goto out;
    }
    // One answer per message: an acknowledgement (error 0) or its error. The first error ends the reading.
    char answer[16384];
    size_t acknowledged = 0;
    while (acknowledged < messages && !err) {
        ssize_t got = mnl_socket_recvfrom(nl, answer, sizeof answer);
        if (got < 0) {
            err = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
            break;
        }
        int left = (int)got;
        for (struct nlmsghdr *reply = (struct nlmsghdr *)answer; mnl_nlmsg_ok(reply, left);
             reply = mnl_nlmsg_next(reply, &left)) {
            if (reply->nlmsg_type != NLMSG_ERROR) continue;
            const struct nlmsgerr *e = mnl_nlmsg_get_payload(reply);
            if (e->error == 0) {
                acknowledged++;
            } else {
                err = e->error < 0 ? e->error : -e->error;
                if (reply->nlmsg_seq >= 1 && reply->nlmsg_seq <= messages) *failed_op = op_of_seq[reply->nlmsg_seq - 1];
                break;
            }
        }
    }
out:
    if (nl) mnl_socket_close(nl);
    free(op_of_seq);
    free(buf);
    return err;
}

#endif

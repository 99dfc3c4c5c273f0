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

// Packet filter (PacketFilter.swift): the agent's own nftables table through libnftables, whose context
// binds its netlink socket to the namespace of the thread that creates it (so it is created in cnl_in_netns).
#include <stdlib.h>
#include <string.h>
#include <nftables/libnftables.h>

#endif

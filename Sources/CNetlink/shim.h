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

// Network namespaces are per thread, and a socket stays in the namespace it was created in. Both helpers
// below switch namespace on a short-lived thread so the caller's threads never change namespace.

struct cnl_netns_job {
    int nsfd;           // in: namespace to enter, or -1 to create a fresh one
    struct nl_sock *sk; // in: socket to connect there, or NULL
    int sys_errno;      // out: errno of a failed setns/unshare/open/pthread_create, else 0
    int nl_error;       // out: libnl error of a failed genl_connect, else 0
    int outfd;          // out: fd of the fresh namespace, else -1
};

static void *cnl_netns_thread(void *arg) {
    struct cnl_netns_job *job = (struct cnl_netns_job *)arg;
    if (job->nsfd >= 0 ? setns(job->nsfd, CLONE_NEWNET) : unshare(CLONE_NEWNET)) {
        job->sys_errno = errno;
        return NULL;
    }
    if (job->nsfd < 0) {
        job->outfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (job->outfd < 0) { job->sys_errno = errno; return NULL; }
    }
    if (job->sk != NULL) job->nl_error = genl_connect(job->sk);
    return NULL;
}

/// Runs `job` on a new thread and waits for it.
static inline void cnl_netns_run(struct cnl_netns_job *job) {
    job->sys_errno = 0;
    job->nl_error = 0;
    job->outfd = -1;
    pthread_t thread;
    int err = pthread_create(&thread, NULL, cnl_netns_thread, job);
    if (err != 0) { job->sys_errno = err; return; }
    pthread_join(thread, NULL);
}

// Host network (HostNetwork.swift): links, addresses and sysctls over NETLINK_ROUTE (libnl-route-3).
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <net/if.h>
#include <linux/if_addr.h>

static const unsigned int cnl_iff_up = IFF_UP;
static const unsigned int cnl_ifa_f_nodad = IFA_F_NODAD;
static const unsigned char cnl_rt_scope_link = RT_SCOPE_LINK;

// Connects a socket (nl_connect with `protocol`) and/or opens a file inside a network namespace, on a
// short-lived thread like cnl_netns_run: /proc/sys/net belongs to the namespace of the thread that opens it,
// and a netlink socket to the namespace it was connected in.
struct cnl_netns_open_job {
    int nsfd;           // in: namespace to enter
    struct nl_sock *sk; // in: socket to connect with nl_connect(sk, protocol), or NULL
    int protocol;       // in: netlink protocol for sk
    const char *path;   // in: file to open with `flags` (O_CLOEXEC is added), or NULL
    int flags;          // in
    int sys_errno;      // out: errno of a failed setns/open/pthread_create, else 0
    int nl_error;       // out: libnl error of a failed nl_connect, else 0
    int fd;             // out: the opened file, else -1
    int entered;        // out: 1 once the thread is inside the namespace (a later sys_errno is open's)
};

static void *cnl_netns_open_thread(void *arg) {
    struct cnl_netns_open_job *job = (struct cnl_netns_open_job *)arg;
    if (setns(job->nsfd, CLONE_NEWNET)) { job->sys_errno = errno; return NULL; }
    job->entered = 1;
    if (job->sk != NULL) {
        job->nl_error = nl_connect(job->sk, job->protocol);
        if (job->nl_error < 0) return NULL;
    }
    if (job->path != NULL) {
        job->fd = open(job->path, job->flags | O_CLOEXEC);
        if (job->fd < 0) job->sys_errno = errno;
    }
    return NULL;
}

/// Runs `job` on a new thread and waits for it.
static inline void cnl_netns_open(struct cnl_netns_open_job *job) {
    job->sys_errno = 0;
    job->nl_error = 0;
    job->fd = -1;
    job->entered = 0;
    pthread_t thread;
    int err = pthread_create(&thread, NULL, cnl_netns_open_thread, job);
    if (err != 0) { job->sys_errno = err; return; }
    pthread_join(thread, NULL);
}

// Packet filter (Nftables.swift): the agent's own nftables table through libnftables. One call runs one
// command buffer as one transaction (libnftables sends it as a single netlink batch), on a short-lived thread
// inside the namespace like cnl_netns_open, with a context created and freed there: libnftables binds its
// netlink socket to the namespace of the thread that creates the context.
#include <stdlib.h>
#include <string.h>
#include <nftables/libnftables.h>

struct cnl_nft_job {
    int nsfd;             // in: namespace to enter, or -1 to stay in the caller's
    const char *commands; // in: nft commands, NUL-terminated
    int result;           // out: nft_run_cmd_from_buffer's return, 0 on success
    int sys_errno;        // out: errno of a failed setns/pthread_create, ENOMEM when nft_ctx_new failed, else 0
    char *error;          // out: libnftables' error text (malloc'd, the caller frees it), or NULL
};

static void *cnl_nft_thread(void *arg) {
    struct cnl_nft_job *job = (struct cnl_nft_job *)arg;
    if (job->nsfd >= 0 && setns(job->nsfd, CLONE_NEWNET)) { job->sys_errno = errno; return NULL; }
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (ctx == NULL) { job->sys_errno = ENOMEM; return NULL; }
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    job->result = nft_run_cmd_from_buffer(ctx, job->commands);
    const char *text = nft_ctx_get_error_buffer(ctx);
    if (text != NULL && text[0] != '\0') job->error = strdup(text);
    nft_ctx_free(ctx);
    return NULL;
}

/// Runs `job` (on a new thread when it names a namespace) and waits for it.
static inline void cnl_nft_run(struct cnl_nft_job *job) {
    job->result = -1;
    job->sys_errno = 0;
    job->error = NULL;
    if (job->nsfd < 0) { cnl_nft_thread(job); return; }
    pthread_t thread;
    int err = pthread_create(&thread, NULL, cnl_nft_thread, job);
    if (err != 0) { job->sys_errno = err; return; }
    pthread_join(thread, NULL);
}

#endif

internal import CNetlink

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Work done on a short-lived thread inside a network namespace, so the caller's threads never change
/// namespace: a netlink socket, a libnftables context and a /proc/sys/net file each belong to the namespace
/// of the thread that creates or opens them. The one way into another namespace in this module.
enum NamespaceThread {
    /// Runs `body` on a new thread inside the namespace at `path`.
    /// - Parameter code: the error code for an errno of opening or entering it (the IPVS client reports
    ///   every such failure as connectionFailed, the host network tells notFound and permissionDenied apart).
    /// - Throws: when the namespace cannot be opened or entered.
    static func run<R>(
        inNamespaceAt path: String,
        code: (Int32) -> IPVSError.Code = { _ in .connectionFailed },
        _ body: () -> R
    ) throws(IPVSError) -> R {
        let nsfd = open(path, O_RDONLY | O_CLOEXEC)
        guard nsfd >= 0 else { throw failure("open network namespace \(path)", errno: errno, code: code) }
        defer { close(nsfd) }
        switch run(nsfd: nsfd, body) {
        case .success(let result): return result
        case .failure(let err): throw failure("enter network namespace \(path)", errno: err.value, code: code)
        }
    }

    /// Runs `body` on a new thread inside a fresh network namespace (needs CAP_SYS_ADMIN).
    /// - Returns: body's result, or the errno of unshare/pthread_create.
    static func runInFreshNamespace<R>(_ body: () -> R) -> Result<R, Errno> {
        run(nsfd: -1, body)
    }

    struct Errno: Error { var value: Int32 }

    private final class Work {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private static func run<R>(nsfd: Int32, _ body: () -> R) -> Result<R, Errno> {
        var result: R?
        let sysErrno = withoutActuallyEscaping(body) { body -> Int32 in
            // The thread is joined before this returns, so `body` and `result` outlive every use.
            let work = Unmanaged.passRetained(Work { result = body() })
            defer { work.release() }
            var call = cnl_netns_call(
                nsfd: nsfd,
                work: { Unmanaged<Work>.fromOpaque($0!).takeUnretainedValue().body() },
                arg: work.toOpaque(),
                sys_errno: 0
            )
            cnl_in_netns(&call)
            return call.sys_errno
        }
        guard sysErrno == 0, let result else { return .failure(Errno(value: sysErrno)) }
        return .success(result)
    }

    private static func failure(_ step: String, errno: Int32, code: (Int32) -> IPVSError.Code) -> IPVSError {
        IPVSError(code(errno), "cannot \(step): \(IPVSError.describe(errno: errno))", errno: errno)
    }
}

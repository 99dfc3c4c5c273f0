internal import CNetlink

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Turns libnl-route results into typed errors that name the step, with the errno libnl translated.
enum RouteError {
    /// The choke point for libnl-route calls: a negative result becomes a typed error naming the step.
    static func check(_ result: Int32, _ step: @autoclosure () -> String) throws(IPVSError) {
        guard result < 0 else { return }
        throw error(libnl: -result, step: step())
    }

    /// The error for libnl code `code` (positive `NLE_*`), with the kernel errno libnl mapped it from.
    static func error(libnl code: Int32, step: String) -> IPVSError {
        let (kind, errno) = classify(code)
        let text = String(cString: nl_geterror(code))
        let suffix = errno.map { " (\(name(ofErrno: $0)))" } ?? ""
        return IPVSError(kind, "cannot \(step): \(text)\(suffix)", errno: errno)
    }

    static func outOfMemory(_ step: String) -> IPVSError {
        IPVSError(.kernel, "cannot \(step): out of memory (ENOMEM)", errno: ENOMEM)
    }

    /// libnl folds errnos into its own codes (nl_syserr2nlerr); this is the inverse for the ones it keeps apart.
    static func classify(_ code: Int32) -> (IPVSError.Code, Int32?) {
        switch code {
        case NLE_PERM: (.permissionDenied, EPERM)
        case NLE_EXIST: (.alreadyExists, EEXIST)
        case NLE_OBJ_NOTFOUND, NLE_NODEV: (.notFound, ENODEV)
        case NLE_NOADDR: (.notFound, EADDRNOTAVAIL)
        case NLE_INVAL: (.invalidArgument, EINVAL)
        case NLE_OPNOTSUPP: (.invalidArgument, EOPNOTSUPP)
        case NLE_AF_NOSUPPORT: (.invalidArgument, EAFNOSUPPORT)
        case NLE_RANGE: (.invalidArgument, ERANGE)
        case NLE_BUSY: (.kernel, EBUSY)
        case NLE_NOMEM: (.kernel, ENOMEM)
        case NLE_BAD_SOCK, NLE_DUMP_INTR, NLE_MSG_TRUNC, NLE_SEQ_MISMATCH: (.connectionFailed, nil)
        default: (.kernel, nil)
        }
    }

    /// The symbolic name of the errnos this layer reports, e.g. "ENODEV".
    static func name(ofErrno errno: Int32) -> String {
        let names: [Int32: String] = [
            EPERM: "EPERM", EACCES: "EACCES", ENOENT: "ENOENT", EEXIST: "EEXIST", ENODEV: "ENODEV",
            EADDRNOTAVAIL: "EADDRNOTAVAIL", EINVAL: "EINVAL", EOPNOTSUPP: "EOPNOTSUPP",
            EAFNOSUPPORT: "EAFNOSUPPORT", ERANGE: "ERANGE", EBUSY: "EBUSY", ENOMEM: "ENOMEM", EROFS: "EROFS",
            EISDIR: "EISDIR", ENOTDIR: "ENOTDIR",
        ]
        return names[errno] ?? "errno \(errno)"
    }

    /// An error from a system call (open, read, write, setns) with its errno.
    static func system(_ step: String, errno: Int32) -> IPVSError {
        let code: IPVSError.Code
        switch errno {
        case EPERM, EACCES, EROFS: code = .permissionDenied
        case ENOENT, ENODEV: code = .notFound
        case EINVAL: code = .invalidArgument
        default: code = .kernel
        }
        let text = String(cString: strerror(errno))
        return IPVSError(code, "cannot \(step): \(text) (\(name(ofErrno: errno)))", errno: errno)
    }
}

/// Work done on a short-lived thread inside a namespace given by a path, so the caller's thread never moves.
enum NamespaceFile {
    /// Enters the namespace at `path`, connects `socket` to NETLINK_ROUTE there and/or opens `file` there.
    /// - Returns: the finished job: `fd` is the opened file (the caller closes it) or -1 with `sys_errno`,
    ///   and `nl_error` is the result of connecting.
    /// - Throws: when the namespace cannot be opened or entered.
    static func enter(
        _ path: String,
        connecting socket: OpaquePointer? = nil,
        opening file: String? = nil,
        flags: Int32 = O_RDONLY
    ) throws(IPVSError) -> cnl_netns_open_job {
        let nsfd = open(path, O_RDONLY | O_CLOEXEC)
        guard nsfd >= 0 else { throw RouteError.system("open network namespace \(path)", errno: errno) }
        defer { close(nsfd) }
        var job = cnl_netns_open_job(
            nsfd: nsfd,
            sk: socket,
            protocol: NETLINK_ROUTE,
            path: nil,
            flags: flags,
            sys_errno: 0,
            nl_error: 0,
            fd: -1,
            entered: 0
        )
        if let file {
            file.withCString { name in
                job.path = name
                cnl_netns_open(&job)
                job.path = nil
            }
        } else {
            cnl_netns_open(&job)
        }
        if job.entered == 0 {
            throw RouteError.system("enter network namespace \(path)", errno: job.sys_errno)
        }
        return job
    }
}

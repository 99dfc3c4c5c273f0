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
        let suffix = errno.map { " (\(IPVSError.name(ofErrno: $0)))" } ?? ""
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

    /// An error from a system call (open, read, write, setns) with its errno.
    static func system(_ step: String, errno: Int32) -> IPVSError {
        IPVSError(code(ofErrno: errno), "cannot \(step): \(IPVSError.describe(errno: errno))", errno: errno)
    }

    /// The error code this layer reports a system call's errno as.
    static func code(ofErrno errno: Int32) -> IPVSError.Code {
        switch errno {
        case EPERM, EACCES, EROFS: .permissionDenied
        case ENOENT, ENODEV: .notFound
        case EINVAL: .invalidArgument
        default: .kernel
        }
    }
}

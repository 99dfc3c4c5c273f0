#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An error from the IPVS library: what went wrong, for which operation, and the kernel's errno if any.
public struct IPVSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case alreadyExists, notFound, schedulerUnavailable, invalidArgument, permissionDenied
            case ipvsUnavailable, timedOut, connectionFailed, malformedReply, invalidInput
            case acknowledgementLost, inconsistentListing, kernel
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The service, real server or daemon is already there (EEXIST).
        public static let alreadyExists = Code(.alreadyExists)
        /// The service, real server or daemon does not exist (ESRCH, ENOENT).
        public static let notFound = Code(.notFound)
        /// The scheduler or persistence engine is not available in the kernel (ENOENT on a service).
        public static let schedulerUnavailable = Code(.schedulerUnavailable)
        /// The kernel rejected the entry (EINVAL, EAFNOSUPPORT, ...).
        public static let invalidArgument = Code(.invalidArgument)
        /// The process lacks CAP_NET_ADMIN (EPERM).
        public static let permissionDenied = Code(.permissionDenied)
        /// The kernel has no IPVS: the `ip_vs` module is not loaded and could not be loaded.
        public static let ipvsUnavailable = Code(.ipvsUnavailable)
        /// No reply within the client's reply timeout.
        public static let timedOut = Code(.timedOut)
        /// The netlink socket could not be opened or failed; the client reopens it on next use.
        public static let connectionFailed = Code(.connectionFailed)
        /// The kernel's reply could not be decoded.
        public static let malformedReply = Code(.malformedReply)
        /// The request was refused before it reached the kernel.
        public static let invalidInput = Code(.invalidInput)
        /// The socket overflowed and the kernel's answer to this operation was lost: its outcome is unknown.
        public static let acknowledgementLost = Code(.acknowledgementLost)
        /// The table kept changing while it was listed in several parts, and repeated reads did not settle.
        public static let inconsistentListing = Code(.inconsistentListing)
        /// Another kernel errno.
        public static let kernel = Code(.kernel)

        public var description: String { "\(base)" }
    }

    public var code: Code
    /// The operation that failed, when there was one.
    public var operation: IPVSOperation?
    /// The kernel's (or a system call's) errno, positive, when there was one.
    public var errno: Int32?
    /// A human-readable explanation.
    public var message: String

    public init(_ code: Code, _ message: String, operation: IPVSOperation? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.operation = operation
        self.errno = errno
    }

    public var description: String { message }

    /// The error the kernel's errno means for `operation`, worded for an operator.
    public static func kernel(errno: Int32, operation: IPVSOperation?) -> IPVSError {
        let op = operation?.description ?? "request"
        let (code, text): (Code, String)
        switch (errno, operation) {
        case (EPERM, _), (EACCES, _):
            (code, text) = (.permissionDenied, "\(op): permission denied: IPVS needs CAP_NET_ADMIN (run as root)")
        case (EEXIST, .addService(let vs)?):
            (code, text) = (.alreadyExists, "service \(vs.id) already exists")
        case (ENOENT, .addService(let vs)?), (ENOENT, .updateService(let vs)?):
            (code, text) = (.schedulerUnavailable, unavailableScheduler(vs))
        case (ESRCH, .updateService(let vs)?):
            (code, text) = (.notFound, "service \(vs.id) does not exist")
        case (ESRCH, .deleteService(let id)?), (ESRCH, .zero(let id?)?):
            (code, text) = (.notFound, "service \(id) does not exist")
        case (ESRCH, .addServer(_, let id)?), (ESRCH, .updateServer(_, let id)?), (ESRCH, .deleteServer(_, let id)?):
            (code, text) = (.notFound, "\(op): service \(id) does not exist")
        case (EEXIST, .addServer(let rs, let id)?):
            (code, text) = (.alreadyExists, "real server \(rs.id) already exists in service \(id)")
        case (ENOENT, .updateServer(let rs, let id)?):
            (code, text) = (.notFound, "real server \(rs.id) does not exist in service \(id)")
        case (ENOENT, .deleteServer(let rs, let id)?):
            (code, text) = (.notFound, "real server \(rs) does not exist in service \(id)")
        case (EEXIST, .startDaemon(let daemon)?):
            (code, text) = (.alreadyExists, "a \(daemon.state) sync daemon is already running")
        case (ESRCH, .stopDaemon(let state)?):
            (code, text) = (.notFound, "no \(state) sync daemon is running")
        case (EINVAL, _), (EAFNOSUPPORT, _), (EOPNOTSUPP, _), (ERANGE, _):
            (code, text) = (.invalidArgument, "\(op): the kernel rejected it: \(describe(errno: errno))")
        case (ESRCH, _), (ENOENT, _):
            (code, text) = (.notFound, "\(op): \(describe(errno: errno))")
        case (EEXIST, _):
            (code, text) = (.alreadyExists, "\(op): \(describe(errno: errno))")
        default:
            (code, text) = (.kernel, "\(op): \(describe(errno: errno))")
        }
        return IPVSError(code, text, operation: operation, errno: errno)
    }

    private static func unavailableScheduler(_ vs: VirtualServer) -> String {
        if let engine = vs.persistenceEngine {
            return "scheduler '\(vs.scheduler)' or persistence engine '\(engine)' not available"
                + " (is the ip_vs_\(vs.scheduler) / ip_vs_pe_\(engine) module installed?)"
        }
        return "scheduler '\(vs.scheduler)' not available (is the ip_vs_\(vs.scheduler) module installed?)"
    }

    /// `strerror` text plus the symbolic name, e.g. "Invalid argument (EINVAL)": the project's one wording of
    /// an errno (the manifest loader's file errors use it too).
    public static func describe(errno: Int32) -> String {
        "\(String(cString: strerror(errno))) (\(name(ofErrno: errno)))"
    }

    /// The symbolic name of the errnos this module reports, e.g. "ENODEV"; "errno N" for others.
    static func name(ofErrno errno: Int32) -> String {
        errnoNames[errno] ?? "errno \(errno)"
    }

    private static let errnoNames: [Int32: String] = [
        EPERM: "EPERM", EACCES: "EACCES", ENOENT: "ENOENT", ESRCH: "ESRCH", EEXIST: "EEXIST", EINVAL: "EINVAL",
        ENOMEM: "ENOMEM", ENOBUFS: "ENOBUFS", EAFNOSUPPORT: "EAFNOSUPPORT", EOPNOTSUPP: "EOPNOTSUPP",
        ERANGE: "ERANGE", EBUSY: "EBUSY", EMSGSIZE: "EMSGSIZE", ENOPROTOOPT: "ENOPROTOOPT", ENODEV: "ENODEV",
        EADDRNOTAVAIL: "EADDRNOTAVAIL", EROFS: "EROFS", EISDIR: "EISDIR", ENOTDIR: "ENOTDIR", EIO: "EIO",
        EMFILE: "EMFILE", ENFILE: "ENFILE", ELOOP: "ELOOP", ENAMETOOLONG: "ENAMETOOLONG", EOVERFLOW: "EOVERFLOW",
    ]
}

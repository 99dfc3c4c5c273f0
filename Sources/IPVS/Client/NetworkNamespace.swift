#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The network namespace a client's socket lives in. IPVS tables are per namespace.
public enum NetworkNamespace: Hashable, Sendable {
    /// The namespace of the calling process.
    case current
    /// A namespace file, such as `/run/netns/blue` or `/proc/1234/ns/net`.
    case path(String)
}

/// An open reference to a network namespace; the namespace lives at least as long as this handle.
public final class NetworkNamespaceHandle: Sendable {
    /// The open namespace file descriptor.
    public let fileDescriptor: Int32

    /// `/proc/<pid>/fd/<fd>`, usable by `nsenter --net=` and `ip netns exec`-style tools while this lives.
    public var path: String { "/proc/\(getpid())/fd/\(fileDescriptor)" }

    /// Creates a fresh, empty network namespace (needs CAP_SYS_ADMIN). The caller's threads stay where they are.
    public static func createFresh() throws(IPVSError) -> NetworkNamespaceHandle {
        let opened = NamespaceThread.runInFreshNamespace { () -> (fd: Int32, errno: Int32) in
            let fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
            return (fd, fd < 0 ? errno : 0)
        }
        let fd: Int32
        let err: Int32
        switch opened {
        case .success(let result): (fd, err) = result
        case .failure(let failure): (fd, err) = (-1, failure.value)
        }
        guard fd >= 0 else {
            throw IPVSError(
                .connectionFailed,
                "cannot create a network namespace: \(IPVSError.describe(errno: err))",
                errno: err
            )
        }
        return NetworkNamespaceHandle(fileDescriptor: fd)
    }

    private init(fileDescriptor: Int32) { self.fileDescriptor = fileDescriptor }

    /// This namespace as a client option.
    public var namespace: NetworkNamespace { .path(path) }

    deinit { close(fileDescriptor) }
}

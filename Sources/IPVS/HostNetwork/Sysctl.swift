#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads and writes entries under /proc/sys in a network namespace.
///
/// /proc/sys/net is bound to the namespace of the thread that opens the file, so files are opened on a thread
/// inside the namespace and read or written from the caller's thread through the descriptor.
enum Sysctl {
    /// Validates a sysctl name in slash form (`net/ipv4/vs/conntrack`) and returns its /proc/sys path.
    /// - Throws: ``IPVSError/Code/invalidInput`` naming the problem.
    static func path(of name: String) throws(IPVSError) -> String {
        func invalid(_ why: String) -> IPVSError {
            IPVSError(.invalidInput, "invalid sysctl name '\(name)': \(why)")
        }
        guard !name.isEmpty else { throw invalid("it is empty") }
        guard !name.hasPrefix("/") else { throw invalid("give it relative to /proc/sys, without a leading '/'") }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.+@/")
        if let bad = name.first(where: { !allowed.contains($0) }) {
            throw invalid("character '\(bad)' is not allowed (use '/' between components, as in net/ipv4/vs/conntrack)")
        }
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty { throw invalid("it has an empty component") }
            if component == "." || component == ".." { throw invalid("component '\(component)' is not allowed") }
        }
        return "/proc/sys/" + name
    }

    /// The value of `name`, without the trailing newline.
    static func value(of name: String, in namespace: NetworkNamespace) throws(IPVSError) -> String {
        let fd = try openFile(name, flags: O_RDONLY, in: namespace, step: "read sysctl \(name)")
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw RouteError.system("read sysctl \(name)", errno: errno)
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        while bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `value` to `name`.
    static func set(_ name: String, to value: String, in namespace: NetworkNamespace) throws(IPVSError) {
        guard !value.isEmpty, !value.contains("\n"), !value.utf8.contains(0) else {
            throw IPVSError(.invalidInput, "invalid value for sysctl \(name): '\(value)' (empty or several lines)")
        }
        let step = "set sysctl \(name) to \(value)"
        let fd = try openFile(name, flags: O_WRONLY, in: namespace, step: step)
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        while true {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count < 0 { throw RouteError.system(step, errno: errno) }
            if count != bytes.count {
                throw IPVSError(.kernel, "cannot \(step): the kernel took \(count) of \(bytes.count) bytes")
            }
            return
        }
    }

    private static func openFile(
        _ name: String,
        flags: Int32,
        in namespace: NetworkNamespace,
        step: String
    ) throws(IPVSError) -> Int32 {
        let path = try path(of: name)
        let fd: Int32
        let err: Int32
        switch namespace {
        case .current:
            fd = open(path, flags | O_CLOEXEC)
            err = fd < 0 ? errno : 0
        case .path(let namespacePath):
            (fd, err) = try NamespaceThread.run(inNamespaceAt: namespacePath, code: RouteError.code(ofErrno:)) {
                let fd = open(path, flags | O_CLOEXEC)
                return (fd, fd < 0 ? errno : 0)
            }
        }
        if fd >= 0 { return fd }
        if err == ENOENT {
            let hint = name.hasPrefix("net/ipv4/vs/") ? " (is the ip_vs module loaded?)" : ""
            throw IPVSError(.notFound, "cannot \(step): sysctl \(name) does not exist\(hint)", errno: ENOENT)
        }
        throw RouteError.system(step, errno: err)
    }
}

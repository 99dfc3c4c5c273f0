import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A blocking client socket for the listener tests: connect, send raw bytes, see whether the server
/// closed it. Raw rather than an HTTP client, so a test can hold a half-sent request.
final class RawSocket: @unchecked Sendable {  // a descriptor; tests use each from one thread at a time
    let fd: Int32

    /// Connects to 127.0.0.1:`port`.
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw RawSocketError("connect 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
    }

    /// Connects to the Unix socket at `path`.
    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError("socket: \(String(cString: strerror(errno)))") }
        let result = withUnixAddress(path) { connect(fd, $0, $1) }
        guard result == 0 else {
            close(fd)
            throw RawSocketError("connect \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw RawSocketError("send: \(String(cString: strerror(errno)))") }
            sent += count
        }
    }

    /// Reads until the server closes the connection or `timeout` passes; what arrived.
    func readAll(timeout: Duration = .seconds(30)) -> String {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) >= 0 else { break }
            if poller.revents == 0 { continue }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += chunk[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Whether the server has closed the connection (end of stream or reset), without waiting.
    var isClosedByPeer: Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 0) > 0 else { return false }
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return count == 0 || (count < 0 && errno != EAGAIN)
    }
}

/// Waits until at least `count` of `sockets` are closed by the server, or `limit` passes (a generous
/// bound, not a measurement); returns how many are closed.
func waitForClosed(_ sockets: [RawSocket], atLeast count: Int, within limit: Duration = .seconds(30)) async -> Int {
    let deadline = ContinuousClock.now + limit
    while true {
        let closed = sockets.filter(\.isClosedByPeer).count
        if closed >= count || ContinuousClock.now >= deadline { return closed }
        try? await Task.sleep(for: .milliseconds(50))
    }
}

/// A port free on 127.0.0.1 now, below the kernel's ephemeral range: bound, checked and released.
///
/// Not port 0's choice: that comes from the ephemeral range, where every outgoing connection of the tests
/// running beside this one (health checks make thousands) takes its local port, and one took a port found
/// this way before the server bound it (CI, 2026-12-03: "Address already in use"). Below the range only
/// another test's listener can collide, and these ports are picked at random.
func freeLocalPort() throws -> Int {
    let low = ephemeralRangeStart()
    for _ in 0..<200 {
        let port = Int.random(in: 10_000..<max(10_001, low))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { break }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        if bound { return port }
    }
    throw RawSocketError("cannot find a free port: \(String(cString: strerror(errno)))")
}

/// The first port of net.ipv4.ip_local_port_range (32768 by default).
private func ephemeralRangeStart() -> Int {
    let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
    return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
}

struct RawSocketError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs blocking client code on a thread of its own, not on the concurrency pool: the servers under test
/// answer on that pool, which has as many threads as cores, and a client blocking one of them while other
/// tests block the rest would wait on itself.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// Connects to 127.0.0.1:`port`, sends `request` and reads the answer until the server closes, off the pool.
func exchange(port: Int, _ request: String, sendMayFail: Bool = false) async throws -> String {
    try await offThePool {
        let client = try RawSocket(port: port)
        do {
            try client.send(request)
        } catch  where sendMayFail {}
        return client.readAll()
    }
}

/// Calls `body` with `path` as a `sockaddr_un` and its length, for bind(2) or connect(2).
func withUnixAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

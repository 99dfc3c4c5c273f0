import FoundationEssentials

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A minimal HTTP/1.1 client for ipvsd's admin socket: one request, read until Content-Length or the end of
/// the stream. Used by `ipvsctl agent` and the benchmark harness.
///
/// Hand-written rather than an HTTP client library, so that ipvsctl stays a small, fast-starting binary.
public struct AdminSocketClient: Sendable {
    public var path: String
    /// How long to wait for data before giving up: a stuck agent must not hang the caller.
    public var timeoutSeconds: Int

    public init(path: String, timeoutSeconds: Int = 10) {
        self.path = path
        self.timeoutSeconds = timeoutSeconds
    }

    /// Sends `method path` and returns the body of a 2xx response.
    /// - Throws: ``AdminSocketError`` naming the socket when ipvsd is not reachable or answers with an error.
    public func request(_ method: String, _ target: String) throws(AdminSocketError) -> [UInt8] {
        try Self.checkOwnership(of: path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw AdminSocketError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw AdminSocketError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            throw AdminSocketError("cannot reach ipvsd at \(path): \(reason) (is ipvsd running? are you root?)")
        }
        let request = Array(
            "\(method) \(target) HTTP/1.1\r\nHost: ipvsd\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".utf8
        )
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else {
                throw AdminSocketError("writing to \(path): \(String(cString: strerror(errno)))")
            }
            sent += count
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !Self.isComplete(response) {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count < 0, errno == EAGAIN {
                throw AdminSocketError("ipvsd at \(path) did not answer within \(timeoutSeconds) s")
            }
            if count <= 0 { break }
            response += chunk[0..<count]
        }
        return try Self.body(of: response, from: path)
    }

    /// Refuses a socket, or a directory holding it, that neither root nor the caller owns: its owner
    /// could have put their own server there and answer in ipvsd's name. A missing socket is left to
    /// connect(2) to report.
    /// - Throws: ``AdminSocketError`` naming the path and its owner.
    public static func checkOwnership(of path: String) throws(AdminSocketError) {
        let trusted: Set<uid_t> = [0, geteuid()]
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/")
        var info = stat()
        if !directory.isEmpty, lstat(directory, &info) == 0, !trusted.contains(info.st_uid) {
            throw AdminSocketError(
                "refusing \(path): its directory \(directory) is owned by uid \(info.st_uid), not root or you; "
                    + "that user could answer in ipvsd's name"
            )
        }
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw AdminSocketError("refusing \(path): it is not a socket")
        }
        guard trusted.contains(info.st_uid) else {
            throw AdminSocketError(
                "refusing \(path): the socket is owned by uid \(info.st_uid), not root or you; "
                    + "that user could answer in ipvsd's name"
            )
        }
    }

    /// Whether `response` holds the whole head and as many body bytes as its Content-Length says.
    static func isComplete(_ response: [UInt8]) -> Bool {
        guard let end = headEnd(response) else { return false }
        let head = String(decoding: response[..<end], as: UTF8.self).lowercased()
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            let length = Int(line.dropFirst("content-length:".count).filter { $0 != " " }) ?? 0
            return response.count - (end + 4) >= length
        }
        return false  // no length: read to the end of the stream
    }

    static func headEnd(_ response: [UInt8]) -> Int? {
        let separator: [UInt8] = [13, 10, 13, 10]
        return response.indices.first { response[$0...].starts(with: separator) }
    }

    /// The body of a raw HTTP response; non-2xx statuses become errors.
    static func body(of response: [UInt8], from path: String) throws(AdminSocketError) -> [UInt8] {
        guard let end = headEnd(response) else {
            throw AdminSocketError("ipvsd at \(path) sent an incomplete response")
        }
        let head = String(decoding: response[..<end], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first.map(String.init) ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw AdminSocketError("ipvsd at \(path) sent an invalid status line: \(statusLine)")
        }
        guard (200..<300).contains(status) else {
            throw AdminSocketError("ipvsd answered \(statusLine.dropFirst(parts[0].count + 1))")
        }
        return Array(response[(end + 4)...])
    }

    /// GETs `target` and decodes its JSON body.
    public func get<T: Decodable>(_ type: T.Type, _ target: String) throws(AdminSocketError) -> T {
        let body = try request("GET", target)
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            throw AdminSocketError("ipvsd sent an unexpected \(target) payload: \(error)")
        }
    }
}

/// Why a request on the admin socket failed, naming the socket.
public struct AdminSocketError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

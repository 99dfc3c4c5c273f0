import Foundation
import IPVS

#if canImport(Glibc)
import Glibc
#endif

/// The agent-memory bench's cluster: `workload` as manifests, a config with health checks off, and the real
/// `ipvsd` programming it, reached through its admin socket and its /proc entries.
final class AgentMemoryLab {
    let workload: Workload
    let directory: String
    let agent: AgentProcess

    init(workload: Workload) throws {
        self.workload = workload
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("agent-memory-\(getpid())").path
        agent = AgentProcess(logPath: directory + "/ipvsd.log", context: "agent-memory")
        try FileManager.default.createDirectory(
            atPath: directory + "/manifests",
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
    }

    deinit {
        agent.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var configPath: String { directory + "/config.yaml" }
    var socketPath: String { directory + "/admin.sock" }

    /// The manifests (one file) and a config as deployed, except: no health checks (100k TCP targets would
    /// be another workload), no metrics listener, and no periodic resync to land inside a measurement.
    func writeFiles() throws {
        let text = clusterManifests(
            services: workload.services,
            servers: workload.servers,
            serviceAddress: serviceAddress,
            backendAddress: { "\(self.workload.serverAddress(service: $0, server: $1))" }
        )
        try text.write(toFile: directory + "/manifests/services.yaml", atomically: true, encoding: .utf8)
        try """
        manifests: \(directory)/manifests
        stateFile: \(directory)/state.json
        interface: lbx0
        bindAddresses: true
        metricsAddress: ""
        adminSocket: \(socketPath)
        resyncPeriod: 86400s
        health:
          enabled: false
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func serviceAddress(_ index: Int) -> String {
        guard case .service(_, let address, _) = workload.serviceID(index) else { return "" }
        return "\(address)"
    }

    /// A field of /proc/PID/status in MB (the kernel reports kB).
    func statusMegabytes(_ field: String) throws -> Double {
        guard let pid = agent.pid else { throw BenchError("agent-memory: ipvsd is not running") }
        let path = "/proc/\(pid)/status"
        let status = try String(contentsOfFile: path, encoding: .utf8)
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count >= 2, let kilobytes = Double(words[1]) else { break }
            return kilobytes / 1024
        }
        throw BenchError("agent-memory: no \(field) in kB in \(path)")
    }

    /// Resets ipvsd's VmHWM to its current VmRSS, so the next reading is a peak from now on.
    func resetPeak() throws {
        guard let pid = agent.pid else { throw BenchError("agent-memory: ipvsd is not running") }
        try "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8)
    }

    /// `GET /v1/status`, decoded to the fields the bench reads.
    func status() throws -> AgentStatusSubset {
        let body = try AdminRequest(socket: socketPath).send("GET", "/v1/status")
        do {
            return try JSONDecoder().decode(AgentStatusSubset.self, from: Data(body))
        } catch {
            throw BenchError(
                "agent-memory: unexpected /v1/status payload (\(error)): \(String(decoding: body, as: UTF8.self))"
            )
        }
    }

    /// `POST /v1/resync` (a full resync at the agent's next tick), or with `reload` `POST /v1/sync` (a
    /// manifest reload first).
    func requestSync(reload: Bool) throws {
        _ = try AdminRequest(socket: socketPath).send("POST", reload ? "/v1/sync" : "/v1/resync")
    }
}

/// The part of AgentAPI's `AgentStatus` the bench needs (ipvs-bench does not depend on AgentAPI).
struct AgentStatusSubset: Decodable {
    struct Sync: Decodable {
        var atSeconds: Double
        var durationSeconds: Double
        var operations: Int
        var failures: Int
    }

    var ready: Bool
    var uptimeSeconds: Double
    var virtualServers: Int
    var realServers: Int
    var manifestErrors: [String]
    var lastFullSync: Sync?
    var lastError: String?
}

/// One HTTP/1.1 request over ipvsd's admin Unix socket, read to the end of the stream.
struct AdminRequest {
    var socket: String
    /// The agent answers only between syncs; a 10k resync in the emulated VM takes a while.
    var timeoutSeconds = 600

    func send(_ method: String, _ target: String) throws -> [UInt8] {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw failure("socket", target) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard socket.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw BenchError("agent-memory: admin socket path too long: \(socket)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socket.utf8.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw failure("connect", target) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array(
            "\(method) \(target) HTTP/1.1\r\nHost: ipvsd\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".utf8
        )
        guard
            request.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count
        else { throw failure("send", target) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw failure("recv", target) }
            if count == 0 { break }
            response += chunk[0..<count]
        }
        return try body(of: response, target)
    }

    private func body(of response: [UInt8], _ target: String) throws -> [UInt8] {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = response.indices.first(where: { response[$0...].starts(with: separator) }) else {
            throw BenchError("agent-memory: \(target) at \(socket): incomplete response (\(response.count) bytes)")
        }
        let statusLine = String(decoding: response[..<end], as: UTF8.self).prefix { $0 != "\r" }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]), (200..<300).contains(status) else {
            throw BenchError("agent-memory: \(target) at \(socket) answered \"\(statusLine)\"")
        }
        return Array(response[(end + 4)...])
    }

    private func failure(_ step: String, _ target: String) -> BenchError {
        BenchError("agent-memory: \(step) for \(target) at \(socket): \(String(cString: strerror(errno)))")
    }
}

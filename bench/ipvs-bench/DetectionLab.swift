import Foundation
import IPVS
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The detection bench's cluster inside one fresh network namespace: `services` ClusterIP Services with
/// `servers` endpoints each, every endpoint a TCP listener this process owns on a dummy interface, and the
/// real `ipvsd` binary checking them and programming IPVS.
final class DetectionLab {
    let services: Int
    let servers: Int
    let health: DetectionHealth
    let directory: String
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var listeners: [Int: any Channel] = [:]
    private let agent: AgentProcess

    init(services: Int, servers: Int, health: DetectionHealth) throws {
        self.services = services
        self.servers = servers
        self.health = health
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("detection-\(getpid())").path
        agent = AgentProcess(logPath: directory + "/ipvsd.log", context: "detection")
        try FileManager.default.createDirectory(
            atPath: directory + "/manifests",
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
    }

    deinit {
        stopAgent()
        for channel in listeners.values { try? channel.close().wait() }
        try? group.syncShutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var backendCount: Int { services * servers }

    /// Backend `index` serves service `index / servers` at 10.250.S.R:8080.
    func backendAddress(_ index: Int) -> String { "10.250.\(index / servers).\(index % servers + 1)" }
    func serviceAddress(_ service: Int) -> String { "10.96.200.\(service + 1)" }

    func serviceID(ofBackend index: Int) throws -> VirtualServer.ID {
        guard let address = IPAddress(serviceAddress(index / servers)) else {
            throw BenchError("detection: bad service address \(serviceAddress(index / servers))")
        }
        return .service(.tcp, address, port: 80)
    }

    func realServerID(_ index: Int) throws -> RealServer.ID {
        guard let address = IPAddress(backendAddress(index)) else {
            throw BenchError("detection: bad backend address \(backendAddress(index))")
        }
        return RealServer.ID(address: address, port: 8080)
    }

    /// Loopback up and every backend address on a dummy interface (this namespace only).
    func prepareNetwork() throws {
        var batch = "link set lo up\nlink add bench0 type dummy\nlink set bench0 up\n"
        for index in 0..<backendCount { batch += "addr add \(backendAddress(index))/32 dev bench0\n" }
        try batch.write(toFile: directory + "/network.batch", atomically: true, encoding: .utf8)
        let pid = try spawnProcess(
            ["/usr/bin/env", "ip", "-batch", directory + "/network.batch"],
            log: "/dev/null",
            context: "detection"
        )
        var status: Int32 = 0
        guard waitpid(pid, &status, 0) == pid, status == 0 else {
            throw BenchError("detection: ip -batch failed (wait status \(status)) setting up bench0")
        }
    }

    /// Starts backend `index`'s listener; it accepts and closes every connection, as a TCP check needs.
    func open(_ index: Int) throws {
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { $0.close() }
            .bind(host: backendAddress(index), port: 8080).wait()
        listeners[index] = channel
    }

    /// Closes backend `index`'s listener: from now on its connections are refused.
    func close(_ index: Int) throws {
        try listeners.removeValue(forKey: index)?.close().wait()
    }

    /// The manifests (one Service and one EndpointSlice per service) and the config file.
    func writeFiles() throws {
        let text = clusterManifests(
            services: services,
            servers: servers,
            serviceAddress: serviceAddress,
            backendAddress: { self.backendAddress($0 * self.servers + $1) }
        )
        try text.write(toFile: directory + "/manifests/services.yaml", atomically: true, encoding: .utf8)
        try """
        manifests: \(directory)/manifests
        stateFile: \(directory)/state.json
        interface: lbx0
        metricsAddress: ""
        adminSocket: \(directory)/admin.sock
        health:
          kind: tcp
          interval: \(health.interval.wholeMilliseconds)ms
          timeout: \(health.timeout.wholeMilliseconds)ms
          fall: \(health.fall)
          rise: \(health.rise)
          jitter: \(health.jitter)
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    var configPath: String { directory + "/config.yaml" }
    var logPath: String { agent.logPath }

    func startAgent(binary: String) throws { try agent.start(binary: binary, config: configPath) }

    var logTail: String { agent.logTail }

    /// Throws with the end of ipvsd's log when it is no longer running.
    func checkAgent() throws { try agent.check() }

    /// SIGTERM, then SIGKILL if ipvsd is still running after 15 s.
    func stopAgent() { agent.stop() }
}

/// The health settings ipvsd is configured with, and the bounds the latencies are compared with.
struct DetectionHealth: Sendable {
    var interval: Duration
    var timeout: Duration
    var fall: Int
    var rise: Int
    var jitter: Double

    /// Longest time a dead backend may stay in: `fall` failed checks, the last one taking `timeout`.
    var detectionBound: Duration { interval * fall + timeout }
    /// Longest time a live backend may stay out: `rise` successful checks.
    var recoveryBound: Duration { interval * rise }

    var summary: String {
        "interval \(interval.wholeMilliseconds)ms, timeout \(timeout.wholeMilliseconds)ms, fall \(fall), rise \(rise), "
            + "jitter \(jitter)"
    }
}

extension Duration {
    /// For config files and labels: the options take whole milliseconds.
    var wholeMilliseconds: Int { Int(milliseconds.rounded()) }
}

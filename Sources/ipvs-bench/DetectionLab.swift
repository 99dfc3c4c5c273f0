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
    private var agent: pid_t?

    init(services: Int, servers: Int, health: DetectionHealth) throws {
        self.services = services
        self.servers = servers
        self.health = health
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("detection-\(getpid())").path
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
        let pid = try spawn(["/usr/bin/env", "ip", "-batch", directory + "/network.batch"], log: "/dev/null")
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
        var text = ""
        for service in 0..<services {
            text += """
                apiVersion: v1
                kind: Service
                metadata: {name: s\(service), namespace: bench}
                spec:
                  clusterIP: \(serviceAddress(service))
                  ports:
                  - {name: http, port: 80, targetPort: 8080}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: s\(service)-1, namespace: bench, labels: {kubernetes.io/service-name: s\(service)}}
                addressType: IPv4
                ports:
                - {name: http, protocol: TCP, port: 8080}
                endpoints:

                """
            for server in 0..<servers {
                text += "- addresses: [\(backendAddress(service * servers + server))]\n  conditions: {ready: true}\n"
            }
            text += "---\n"
        }
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
    var logPath: String { directory + "/ipvsd.log" }

    func startAgent(binary: String) throws {
        agent = try spawn([binary, "run", "--config", configPath, "--log-level", "info"], log: logPath)
    }

    var logTail: String { String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(3000)) }

    /// Throws with the end of ipvsd's log when it is no longer running.
    func checkAgent() throws {
        guard let agent else { return }
        var status: Int32 = 0
        guard waitpid(agent, &status, WNOHANG) == agent else { return }
        self.agent = nil
        throw BenchError("detection: ipvsd exited (wait status \(status)):\n\(logTail)")
    }

    /// SIGTERM, then SIGKILL if ipvsd is still running after 15 s.
    func stopAgent() {
        guard let agent else { return }
        self.agent = nil
        kill(agent, SIGTERM)
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(15)
        while waitpid(agent, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                kill(agent, SIGKILL)
                waitpid(agent, &status, 0)
                return
            }
            usleep(20_000)
        }
    }

    /// posix_spawn with standard input from /dev/null, both outputs to `log` and no other descriptor.
    /// (Foundation's Process did not notice ipvsd's exit inside the VM's fresh namespace, and hung the bench.)
    private func spawn(_ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Not the listeners: an inherited listening socket would keep a "closed" backend accepting.
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw BenchError("detection: cannot start \(arguments[0]): \(String(cString: strerror(result)))")
        }
        return pid
    }
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

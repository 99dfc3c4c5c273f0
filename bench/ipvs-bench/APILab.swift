import AgentAPI
import Foundation
import IPVS
import KubernetesStandIn

#if canImport(Glibc)
import Glibc
#endif

/// The `api` bench's cluster: the stand-in API server in this process holding `workload` as Services and
/// EndpointSlices (one slice per Service), a kubeconfig trusting its CA, a config, and the real `ipvsd`
/// watching it, reached through its admin socket, its metrics listener and /proc.
final class APILab {
    let workload: Workload
    let directory: String
    let agent: AgentProcess
    let server: StandInAPIServer
    let kubeconfig: String
    /// Where ipvsd serves /metrics (loopback of the bench's fresh namespace).
    let metricsAddress = "127.0.0.1:9943"

    /// - Parameter watchSeconds: the longest watch the stand-in serves (its cap on timeoutSeconds).
    init(workload: Workload, watchSeconds: Int) throws {
        self.workload = workload
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("api-bench-\(getpid())").path
        agent = AgentProcess(logPath: directory + "/ipvsd.log", context: "api")
        try FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let pki = try StandInPKI.make()
        server = try blockingAwaitThrowing { try await StandInAPIServer(pki: pki) }
        server.setMaxWatchSeconds(watchSeconds)
        // ipvsd's own Node, which it reads once at start for its zone label, as on a cluster.
        try server.setNode(Self.nodeName(0), labels: ["topology.kubernetes.io/zone": "zone-0"])
        kubeconfig = try server.writeKubeconfig(name: "api-bench")
    }

    deinit {
        agent.stop()
        let server = self.server
        blockingAwait { await server.shutdown() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    var configPath: String { directory + "/config.yaml" }
    var socketPath: String { directory + "/admin.sock" }

    /// Puts every Service and slice into the stand-in, then compacts its history (a fresh server's list is
    /// all ipvsd needs; the history of 2 x N writes would only cost the bench memory).
    func load() {
        for index in 0..<workload.services {
            server.apply(
                .services,
                StandInObjects.service(serviceName(index), namespace: "bench", clusterIP: vip(index))
            )
            server.apply(.endpointSlices, slice(index, firstAddress: nil))
        }
        server.compact()
    }

    /// Service `index`'s one slice; `firstAddress` replaces its first endpoint's address.
    func slice(_ index: Int, firstAddress: String?) -> String {
        var addresses = (0..<workload.servers).map { "\(workload.serverAddress(service: index, server: $0))" }
        if let firstAddress { addresses[0] = firstAddress }
        return StandInObjects.slice(
            "\(serviceName(index))-1",
            service: serviceName(index),
            namespace: "bench",
            addresses: addresses,
            port: 8080,
            nodeNames: (0..<workload.servers).map(Self.nodeName)
        )
    }

    func serviceName(_ index: Int) -> String { "s\(index)" }

    /// The node endpoint `server` of every Service runs on: a cluster of as many nodes as a Service has
    /// endpoints, with ipvsd on the first (`node-0`), so one endpoint of each Service is local to it (10,000
    /// at 10k x 10, far more than a node holds) and the rest are on other nodes, as in a cluster.
    static func nodeName(_ server: Int) -> String { "node-\(server)" }

    func vip(_ index: Int) -> String {
        guard case .service(_, let address, _) = workload.serviceID(index) else { return "" }
        return "\(address)"
    }

    /// A config as deployed, except: no health checks (100k TCP targets would be another workload), no
    /// periodic resync to land inside a measurement, and no per-server kernel counters in /metrics (the
    /// bench scrapes it after every change for one histogram; a full table read per scrape would be
    /// measured instead). The debounce is the agent's default.
    func writeConfig() throws {
        try """
        stateFile: \(directory)/state.json
        interface: lbx0
        bindAddresses: true
        metricsAddress: "\(metricsAddress)"
        kernelStatistics: false
        adminSocket: \(socketPath)
        resyncPeriod: 86400s
        nodeName: \(Self.nodeName(0))
        health:
          enabled: false
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func start(binary: String) throws {
        try agent.start(binary: binary, config: configPath, arguments: ["--kubeconfig", kubeconfig])
    }

    /// `GET /v1/status`.
    func status() throws -> AgentStatus {
        do throws(AdminSocketError) {
            return try AdminSocketClient(path: socketPath, timeoutSeconds: 600).get(AgentStatus.self, AdminPath.status)
        } catch {
            throw BenchError("api: \(error)")
        }
    }

    /// The count and sum of `ipvsd_kubernetes_event_to_kernel_seconds`, scraped from /metrics (curl: the
    /// bench has no HTTP client of its own, and ipvsd's listener is plain HTTP on loopback).
    func eventHistogram() throws -> (count: Int, sum: Double) {
        let text = try capture(["curl", "-sf", "--max-time", "30", "http://\(metricsAddress)/metrics"])
        var count = 0
        var sum = 0.0
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count == 2 else { continue }
            if words[0] == "ipvsd_kubernetes_event_to_kernel_seconds_count" { count = Int(Double(words[1]) ?? 0) }
            if words[0] == "ipvsd_kubernetes_event_to_kernel_seconds_sum" { sum = Double(words[1]) ?? 0 }
        }
        return (count, sum)
    }

    /// A field of ipvsd's /proc/PID/status in MB (the kernel reports kB).
    func statusMegabytes(_ field: String) throws -> Double {
        guard let pid = agent.pid else { throw BenchError("api: ipvsd is not running") }
        return try procStatusMegabytes(pid: pid, field)
    }

    /// ipvsd's CPU time so far, user and system, in seconds (/proc/PID/stat's utime and stime).
    func agentCPUSeconds() throws -> Double {
        guard let pid = agent.pid else { throw BenchError("api: ipvsd is not running") }
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name (field 2) is parenthesised and may hold spaces: count fields after its ')'.
        guard let close = stat.lastIndex(of: ")") else { throw BenchError("api: /proc/\(pid)/stat unreadable") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3): utime and stime are fields 14 and 15.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw BenchError("api: no utime and stime in /proc/\(pid)/stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Requests the stand-in answered so far, by kind.
    func requestCounts() -> (lists: Int, watches: Int, other: Int, total: Int) {
        let requests = server.requests
        let lists = requests.filter(\.isList).count
        let watches = requests.filter(\.isWatch).count
        return (lists, watches, requests.count - lists - watches, requests.count)
    }
}

/// A field of /proc/PID/status in MB (the kernel reports kB).
func procStatusMegabytes(pid: pid_t, _ field: String) throws -> Double {
    let path = "/proc/\(pid)/status"
    let status = try String(contentsOfFile: path, encoding: .utf8)
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count >= 2, let kilobytes = Double(words[1]) else { break }
        return kilobytes / 1024
    }
    throw BenchError("no \(field) in kB in \(path)")
}

/// Runs a command and returns its standard output; throws when it exits non-zero.
func capture(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BenchError("\(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
    }
    return String(decoding: output, as: UTF8.self)
}

/// `blockingAwait` for work that throws.
func blockingAwaitThrowing<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    try blockingAwait { () async -> Result<T, any Error> in
        do { return .success(try await body()) } catch { return .failure(error) }
    }
    .get()
}

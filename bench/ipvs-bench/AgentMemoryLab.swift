import AgentAPI
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

    /// About 45 MB of manifests at 10 endpoints a Service, so sizes up to 50k x 10 stay one file.
    static let servicesPerFile = 50_000

    var configPath: String { directory + "/config.yaml" }
    var socketPath: String { directory + "/admin.sock" }

    /// The manifests and a config as deployed, except: no health checks (100k TCP targets would be another
    /// workload), no metrics listener, and no periodic resync to land inside a measurement. Endpoints carry
    /// node names as in the `api` bench (``APILab/nodeName(_:)``: one endpoint of each Service on ipvsd's
    /// node), so both benches program the same hairpin set; without them every endpoint might be local and
    /// each of the 100,000 at 10k x 10 needed a masquerade element (runs before 2026-12-03 13:00).
    ///
    /// One file up to `servicesPerFile` Services, more above it: ipvsd refuses a manifest file over 64 MiB
    /// (its parse budget), and 100k x 10 in one file is about 90 MB.
    func writeFiles() throws {
        for first in stride(from: 0, to: workload.services, by: Self.servicesPerFile) {
            let count = min(Self.servicesPerFile, workload.services - first)
            let text = clusterManifests(
                services: count,
                servers: workload.servers,
                serviceAddress: { self.serviceAddress(first + $0) },
                backendAddress: { "\(self.workload.serverAddress(service: first + $0, server: $1))" },
                nodeName: APILab.nodeName,
                first: first
            )
            let name = first == 0 ? "services.yaml" : "services-\(first / Self.servicesPerFile).yaml"
            try text.write(toFile: directory + "/manifests/" + name, atomically: true, encoding: .utf8)
        }
        try """
        manifests: \(directory)/manifests
        stateFile: \(directory)/state.json
        interface: lbx0
        bindAddresses: true
        metricsAddress: ""
        adminSocket: \(socketPath)
        resyncPeriod: 86400s
        nodeName: \(APILab.nodeName(0))
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
        return try procStatusMegabytes(pid: pid, field)
    }

    /// Resets ipvsd's VmHWM to its current VmRSS, so the next reading is a peak from now on.
    func resetPeak() throws {
        guard let pid = agent.pid else { throw BenchError("agent-memory: ipvsd is not running") }
        try "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8)
    }

    /// `GET /v1/status`.
    func status() throws -> AgentStatus {
        do throws(AdminSocketError) {
            return try admin.get(AgentStatus.self, AdminPath.status)
        } catch {
            throw BenchError("agent-memory: \(error)")
        }
    }

    /// `POST /v1/resync` (a full resync at the agent's next tick), or with `reload` `POST /v1/sync` (a
    /// manifest reload first).
    func requestSync(reload: Bool) throws {
        do throws(AdminSocketError) {
            _ = try admin.request("POST", reload ? AdminPath.sync : AdminPath.resync)
        } catch {
            throw BenchError("agent-memory: \(error)")
        }
    }

    /// The agent answers only between syncs; a 10k resync in the emulated VM takes a while.
    private var admin: AdminSocketClient { AdminSocketClient(path: socketPath, timeoutSeconds: 600) }
}

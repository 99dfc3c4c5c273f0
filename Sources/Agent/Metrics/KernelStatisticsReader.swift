import IPVS
import ServiceTables

/// What a kernel-statistics read needs from the agent, taken on its actor (the copies share storage).
public struct KernelStatisticsScope: Sendable {
    /// Per real server families are rendered up to this many owned real servers; above it only the per
    /// virtual server families are (Prometheus holds every series of every node: 110k real servers would
    /// be 770k series a node, and a text of about 100 MB a scrape).
    static let maxRealServers = 10_000

    let kernel: any IPVSKernel
    let owned: Set<VirtualServer.ID>
    let desired: [VirtualServer.ID: DesiredVirtualServer]
    let realServers: Int

    /// Reads the owned services (and their servers, under the limit) and renders them.
    func render() -> String {
        let perServer = realServers <= Self.maxRealServers
        var rows: [(ObservedVirtualServer, origin: String, servers: [ObservedRealServer])] = []
        do throws(IPVSError) {
            for service in try kernel.services() where owned.contains(service.virtualServer.id) {
                let id = service.virtualServer.id
                let servers = perServer ? try kernel.servers(of: id) : []
                rows.append((service, desired[id]?.origin.description ?? "", servers))
            }
        } catch {
            return "# kernel statistics unavailable: \(error)\n"
        }
        var text = KernelStatisticsText.render(services: rows)
        if !perServer {
            text += """
                # HELP ipvsd_kernel_statistics_real_servers_omitted Owned real servers whose counters are not \
                exported (more than \(Self.maxRealServers)).
                # TYPE ipvsd_kernel_statistics_real_servers_omitted gauge
                ipvsd_kernel_statistics_real_servers_omitted \(realServers)

                """
        }
        return text
    }
}

/// Serves the kernel's per-server counters to /metrics off the agent's actor, one read at a time: scrapes
/// that arrive during a read share it, and a text younger than `reuse` is served again. A read is a dump of
/// the whole owned table (seconds at 10k services in the VM); without this, anyone who can reach the metrics
/// listener could keep the agent's actor and the kernel socket busy with a scrape loop, delaying every sync.
actor KernelStatisticsReader {
    private let agent: Agent
    private let reuse: Duration
    /// How long a sync may have run for a scrape to still wait for it.
    static let syncWait: Duration = .seconds(1)
    private var last: (at: ContinuousClock.Instant, text: String)?
    private var inFlight: Task<String, Never>?

    init(agent: Agent, reuse: Duration = .seconds(5)) {
        self.agent = agent
        self.reuse = reuse
    }

    func text() async -> String {
        let now = ContinuousClock.now
        if let last, now - last.at < reuse { return last.text }
        if let inFlight { return await inFlight.value }
        // A sync holds the agent (a full resync reads the whole table): a scrape serves the last counters, or
        // none, instead of queueing behind it past the scraper's timeout. Short syncs are waited for.
        if let since = agent.board.syncRunningSince, now - since > Self.syncWait {
            return last?.text ?? "# kernel statistics skipped: a sync is running\n"
        }
        guard let scope = await agent.kernelStatisticsScope() else { return "" }
        // Another scrape may have started a read while this one waited for the agent.
        if let inFlight { return await inFlight.value }
        let task = Task.detached { scope.render() }
        inFlight = task
        let text = await task.value
        inFlight = nil
        last = (ContinuousClock.now, text)
        return text
    }
}

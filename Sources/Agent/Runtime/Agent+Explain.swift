import AgentAPI
import Foundation
import IPVS
import KubernetesManifests
import ServiceTables

/// `GET /v1/explain`: gathers what the agent and the kernel know about one Service. The verdicts are
/// ``ExplainChecks``'s, from these facts alone.
extension Agent {
    /// How long to wait between the two reads of a port's counters.
    public static let explainInterval: Duration = .seconds(1)

    /// The facts about `target` (`NAMESPACE/NAME` or `ADDRESS:PORT`). Reads the kernel twice,
    /// ``explainInterval`` apart; the actor is free meanwhile.
    public func explain(_ target: String, interval: Duration = Agent.explainInterval) async -> ExplainFacts {
        var facts = gatherExplainFacts(target)
        guard !facts.ports.isEmpty, facts.service != nil, !facts.headless else { return facts }
        let started = ContinuousClock.now
        try? await Task.sleep(for: interval)
        for index in facts.ports.indices {
            guard let id = virtualServerID(facts.ports[index].virtualServer) else { continue }
            facts.ports[index].second = try? counters(kernel.service(id).statistics)
        }
        facts.secondsBetweenReads = (ContinuousClock.now - started).seconds
        return facts
    }

    private func gatherExplainFacts(_ target: String) -> ExplainFacts {
        var facts = ExplainFacts(
            target: target,
            knownServices: names.entries.count,
            manifestErrors: Array(manifestErrors.prefix(ExplainFacts.maxLinesShown))
        )
        guard let entry = resolveExplainTarget(target) else { return facts }
        let key = "\(entry.namespace)/\(entry.name)"
        facts.service = key
        facts.headless = entry.headless
        facts.clusterIPs = entry.clusterIPs.map(\.description)
        facts.headlessAddresses = entry.endpointAddresses.count
        if let dns = configuration.dns { facts.dnsName = "\(entry.name).\(entry.namespace).svc.\(dns.domain)" }
        guard !entry.headless else { return facts }

        let snapshots = core.snapshot(now: .now).filter {
            $0.origin.map { "\($0.namespace)/\($0.name)" } == key
        }
        let probes = lastProbes()
        var schedulers: Set<String> = []
        var proven: Set<String> = []
        facts.portsOmitted = max(0, snapshots.count - ExplainFacts.maxPortsShown)
        for snapshot in snapshots.prefix(ExplainFacts.maxPortsShown) {
            facts.ports.append(port(snapshot, probes: probes, proven: &proven))
            if let scheduler = snapshot.desired?.scheduler.rawValue { schedulers.insert(scheduler) }
        }
        var vips: [IPAddress] = []
        for snapshot in snapshots {
            if case .service(_, let address, _) = snapshot.id, !vips.contains(address) { vips.append(address) }
        }
        if configuration.bindAddresses, let binder {
            facts.interface = configuration.interface
            let bound = try? binder.addresses()
            facts.vips = vips.map { vip in ExplainVIP(address: vip.description, bound: bound.map { $0.contains(vip) }) }
        } else {
            facts.vips = vips.map { ExplainVIP(address: $0.description, bound: nil) }
        }
        facts.sysctls = explainSysctls()
        facts.modules = explainModules(schedulers: schedulers, proven: proven)
        let needles = facts.ports.map { $0.virtualServer.split(separator: "/").first.map(String.init) ?? "" } + [key]
        facts.syncErrors = (refusedOperations + (lastError.map { [$0] } ?? []))
            .filter { line in needles.contains { !$0.isEmpty && line.contains($0) } }
            .prefix(ExplainFacts.maxLinesShown).map { $0 }
        return facts
    }

    /// The Service a target names: `NAMESPACE/NAME`, or the desired virtual server at `ADDRESS:PORT`.
    private func resolveExplainTarget(_ target: String) -> ServiceNameTable.Entry? {
        if target.contains("/") {
            return names.entries.first { "\($0.namespace)/\($0.name)" == target }
        }
        guard let listen = try? ListenAddress(parsing: target) else { return nil }
        let origin = core.desired.virtualServers.first { id, _ in
            if case .service(_, let address, let port) = id { return address == listen.address && port == listen.port }
            return false
        }?.value.origin
        guard let origin else { return nil }
        return names.entries.first { $0.namespace == origin.namespace && $0.name == origin.name }
    }

    private func port(
        _ snapshot: VirtualServerSnapshot,
        probes: [HealthReference: HealthStatus],
        proven: inout Set<String>
    ) -> ExplainPort {
        var port = ExplainPort(
            virtualServer: snapshot.id.description,
            portName: snapshot.origin?.portName ?? "",
            desired: snapshot.desired.map(Self.describe) ?? "",
            conflict: snapshot.conflict
        )
        var kernelWeights: [RealServer.ID: UInt32] = [:]
        if !snapshot.conflict, let observed = try? kernel.service(snapshot.id) {
            port.kernel = Self.describe(observed.virtualServer)
            proven.insert(observed.virtualServer.scheduler.rawValue)
            port.first = counters(observed.statistics)
            for server in (try? kernel.servers(of: snapshot.id)) ?? [] {
                kernelWeights[server.realServer.id] = server.realServer.weight
            }
        }
        let known = Set(snapshot.realServers.map(\.id))
        port.kernelOnly = kernelWeights.filter { !known.contains($0.key) }.sorted { $0.key < $1.key }
            .prefix(ExplainFacts.maxLinesShown).map { "\($0.key) weight \($0.value)" }
        var counts = EndpointCounts()
        for server in snapshot.realServers {
            guard let conditions = server.conditions else { continue }
            counts.total += 1
            if conditions.ready { counts.ready += 1 }
            if conditions.serving { counts.serving += 1 }
            if conditions.terminating { counts.terminating += 1 }
        }
        port.counts = counts
        // Serving ones first: when the list is cut, what carries traffic is shown.
        let ordered = snapshot.realServers.sorted { ($0.state == .serving ? 0 : 1) < ($1.state == .serving ? 0 : 1) }
        port.endpoints = ordered.prefix(ExplainFacts.maxEndpointsShown).map { server in
            let probe = probes[HealthReference(virtualServer: snapshot.id, realServer: server.id)]
            return ExplainEndpoint(
                address: server.id.description,
                state: server.state.rawValue,
                desiredWeight: server.desiredWeight,
                kernelWeight: kernelWeights[server.id],
                conditions: server.conditions.map(Self.describe) ?? "",
                health: (probe ?? server.health)?.state.rawValue ?? "",
                lastProbe: (probe ?? server.health)?.lastResult ?? "",
                target: server.target
            )
        }
        return port
    }

    /// Each health reference's live status (the monitor's when it runs, else the last transition's).
    private func lastProbes() -> [HealthReference: HealthStatus] {
        let live = liveHealth?().statuses
        var result: [HealthReference: HealthStatus] = [:]
        for (target, references) in core.healthTargets {
            let status = live?[target] ?? core.healthStatus(of: target)
            for reference in references { result[reference] = status }
        }
        return result
    }

    private func counters(_ statistics: Statistics) -> ExplainCounters {
        ExplainCounters(
            connections: statistics.connections,
            packetsIn: statistics.incomingPackets,
            packetsOut: statistics.outgoingPackets
        )
    }

    private func virtualServerID(_ text: String) -> VirtualServer.ID? {
        core.desired.virtualServers.keys.first { $0.description == text }
    }

    /// The sysctls the data path needs: the configured IPVS ones when the agent manages them, and IP forwarding,
    /// without which replies from the backends (NAT) are dropped.
    private func explainSysctls() -> [ExplainSysctl] {
        guard let read = sysctlReader else { return [] }
        var wanted: [(String, String, String)] = [
            ("net/ipv4/ip_forward", "1", "NAT replies from the backends are forwarded through this host")
        ]
        if configuration.manageSysctls {
            wanted += configuration.sysctls.settings.map { ($0.name, $0.value, "ipvsd's sysctls setting") }
        }
        return wanted.map { ExplainSysctl(name: $0.0, expected: $0.1, actual: read($0.0), why: $0.2) }
    }

    /// ip_vs, each scheduler's module, and nf_conntrack when IPVS conntrack is on. A scheduler built into the
    /// kernel has no /sys/module entry: a virtual server the kernel accepted with it proves it present.
    private func explainModules(schedulers: Set<String>, proven: Set<String>) -> [ExplainModule] {
        let exists: (String) -> Bool = { FileManager.default.fileExists(atPath: "/sys/module/\($0)") }
        var modules = [ExplainModule(name: "ip_vs", loaded: (try? kernel.info()) != nil, why: "IPVS itself")]
        for scheduler in schedulers.sorted() {
            let name = "ip_vs_\(scheduler)"
            modules.append(
                ExplainModule(
                    name: name,
                    loaded: exists(name) || proven.contains(scheduler),
                    why: "the \(scheduler) scheduler"
                )
            )
        }
        if configuration.manageSysctls && configuration.sysctls.conntrack {
            modules.append(
                ExplainModule(name: "nf_conntrack", loaded: exists("nf_conntrack"), why: "net.ipv4.vs.conntrack=1")
            )
        }
        return modules
    }
}

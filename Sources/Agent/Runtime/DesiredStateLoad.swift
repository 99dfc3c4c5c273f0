import IPVS
import KubernetesManifests
import ServiceTables
import YAMLSyntax

/// One whole load of the desired state from the manifests: read, decode, build, and refuse what would hijack
/// the agent's own listeners. Shared by the running agent's full reloads (off its actor) and `ipvsd check`,
/// so both accept and refuse exactly the same input; the agent's incremental reloads apply to the store it
/// returns, with the same refusal.
public struct DesiredStateLoad: Sendable {
    public var state: DesiredState
    public var notes: [String]
    /// Every file, parsed, and what each Service built: where incremental reloads start.
    public var store: ManifestStore
    public var parsedFiles: Int
    /// Reading and parsing the files, then building the Services from the objects: where a long load's time
    /// went (the "manifests loaded" log line).
    public var scanDuration: Duration
    public var buildDuration: Duration
    public var allocations: ClusterIPAllocations { store.allocations }
    /// What DNS serves, from the same manifests and cluster IPs.
    public var names: ServiceNameTable { store.names }

    /// - Parameter held: the desired state the caller holds while this one loads; what is unchanged is
    ///   given as its values, so the two share storage instead of coexisting whole.
    /// - Throws: every problem found, each naming its file, line and field. Any error means no desired
    ///   state: the caller keeps the last good one.
    public static func load(
        _ configuration: AgentConfiguration,
        translation: TranslationOptions,
        allocations: ClusterIPAllocations,
        reusing held: DesiredState? = nil,
        progress: (ManifestStore.ScanProgress) -> Void = { _ in }
    ) throws(ManifestErrors) -> DesiredStateLoad {
        var store = ManifestStore(options: translation, allocations: allocations)
        let start = ContinuousClock.now
        let scan = ManifestStore.scan(configuration.manifests, known: [:], progress: progress)
        let scanned = ContinuousClock.now
        let update = try store.apply(scan, reusing: held?.virtualServers ?? [:]) {
            reserved($0, configuration: configuration)
        }
        return DesiredStateLoad(
            state: DesiredState(
                virtualServers: update.changes.compactMapValues { $0 },
                healthCheckNodePorts: store.healthCheckNodePorts
            ),
            notes: update.notes,
            store: store,
            parsedFiles: scan.parsedFiles,
            scanDuration: scanned - start,
            buildDuration: ContinuousClock.now - scanned
        )
    }

    /// A virtual server on the agent's own metrics listener would capture /metrics, /healthz and /readyz and
    /// send them to a backend (IPVS takes packets before the local socket sees them); one on the DNS listener
    /// would capture the Service names.
    static func refuseReserved(_ state: DesiredState, configuration: AgentConfiguration) throws(ManifestErrors) {
        let errors = reserved(state.virtualServers, configuration: configuration)
        guard errors.isEmpty else { throw ManifestErrors(errors) }
    }

    /// The errors for the virtual servers among `virtualServers` that would capture a listener of the agent.
    static func reserved(
        _ virtualServers: [VirtualServer.ID: DesiredVirtualServer],
        configuration: AgentConfiguration
    ) -> [LocatedError] {
        var listeners: [(listener: ReservedListener, protocols: Set<IPProtocol>, what: String)] = []
        if let metrics = ReservedListener(configuration.metricsAddress) {
            listeners.append(
                (metrics, [.tcp], "ipvsd's own metrics listener (metricsAddress \(configuration.metricsAddress))")
            )
        }
        if let dns = configuration.dns {
            listeners.append(
                (ReservedListener(listen: dns.listen), [.tcp, .udp], "ipvsd's DNS listener (dns.listen \(dns.listen))")
            )
        }
        var errors: [LocatedError] = []
        for (id, service) in virtualServers {
            guard case .service(let proto, let address, let port) = id,
                let reserved = listeners.first(where: {
                    $0.protocols.contains(proto) && $0.listener.captures(address, port)
                })
            else { continue }
            errors.append(
                LocatedError(
                    file: service.origin.description,
                    line: nil,
                    field: "",
                    message: "virtual server \(id) would capture \(reserved.what); use another address or port"
                )
            )
        }
        return errors.sorted { $0.description < $1.description }
    }
}

/// The agent's TCP listener, where a wildcard address reserves the port on every address.
struct ReservedListener {
    var listen: ListenAddress

    init(listen: ListenAddress) { self.listen = listen }

    init?(_ text: String) {
        guard let listen = try? ListenAddress(parsing: text) else { return nil }
        self.listen = listen
    }

    func captures(_ candidate: IPAddress, _ candidatePort: UInt16) -> Bool {
        let wildcard = listen.address == IPAddress("0.0.0.0")! || listen.address == IPAddress("::")!
        return candidatePort == listen.port && (wildcard || listen.address == candidate)
    }
}

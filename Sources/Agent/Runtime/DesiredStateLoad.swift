import IPVS
import KubernetesManifests
import LoadBalancer

/// One load of the desired state from the manifests: read, decode, build, and refuse what would hijack the
/// agent's own listeners. Shared by the running agent (off its actor) and `ipvsd check`, so both accept and
/// refuse exactly the same input.
public struct DesiredStateLoad: Sendable {
    public var state: DesiredState
    public var allocations: ClusterIPAllocations
    public var notes: [String]
    /// What DNS serves, from the same manifests and cluster IPs.
    public var names: ServiceNameTable

    /// - Throws: every problem found, each naming its file, line and field. Any error means no desired
    ///   state: the caller keeps the last good one.
    public static func load(
        _ configuration: AgentConfiguration,
        translation: TranslationOptions,
        allocations: ClusterIPAllocations
    ) throws(ManifestErrors) -> DesiredStateLoad {
        let set = try ManifestLoader.load(path: configuration.manifests)
        let built = try DesiredStateBuilder.build(set, options: translation, allocations: allocations)
        try refuseReserved(built.state, configuration: configuration)
        // The builder's notes start with the set's.
        return DesiredStateLoad(
            state: built.state,
            allocations: built.allocations,
            notes: built.notes,
            names: ServiceNameTable.build(set, allocations: built.allocations)
        )
    }

    /// A virtual server on the agent's own metrics listener would capture /metrics, /healthz and /readyz and
    /// send them to a backend (IPVS takes packets before the local socket sees them); one on the DNS listener
    /// would capture the Service names.
    static func refuseReserved(_ state: DesiredState, configuration: AgentConfiguration) throws(ManifestErrors) {
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
        var errors: [ManifestError] = []
        for (id, service) in state.virtualServers {
            guard case .service(let proto, let address, let port) = id,
                let reserved = listeners.first(where: {
                    $0.protocols.contains(proto) && $0.listener.captures(address, port)
                })
            else { continue }
            errors.append(
                ManifestError(
                    file: service.origin.description,
                    line: nil,
                    field: "",
                    message: "virtual server \(id) would capture \(reserved.what); use another address or port"
                )
            )
        }
        guard errors.isEmpty else { throw ManifestErrors(errors.sorted { $0.description < $1.description }) }
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

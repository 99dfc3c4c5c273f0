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
        return DesiredStateLoad(state: built.state, allocations: built.allocations, notes: built.notes)
    }

    /// A virtual server on the agent's own metrics listener would capture /metrics, /healthz and /readyz and
    /// send them to a backend (IPVS takes packets before the local socket sees them).
    static func refuseReserved(_ state: DesiredState, configuration: AgentConfiguration) throws(ManifestErrors) {
        guard let listener = ReservedListener(configuration.metricsAddress) else { return }
        var errors: [ManifestError] = []
        for (id, service) in state.virtualServers {
            guard case .service(let proto, let address, let port) = id, proto == .tcp, listener.captures(address, port)
            else { continue }
            errors.append(
                ManifestError(
                    file: service.origin.description,
                    line: nil,
                    field: "",
                    message: "virtual server \(id) would capture ipvsd's own metrics listener "
                        + "(metricsAddress \(configuration.metricsAddress)); use another address or port"
                )
            )
        }
        guard errors.isEmpty else { throw ManifestErrors(errors.sorted { $0.description < $1.description }) }
    }
}

/// The agent's TCP listener, where a wildcard address reserves the port on every address.
struct ReservedListener {
    var listen: ListenAddress

    init?(_ text: String) {
        guard let listen = try? ListenAddress(parsing: text) else { return nil }
        self.listen = listen
    }

    func captures(_ candidate: IPAddress, _ candidatePort: UInt16) -> Bool {
        let wildcard = listen.address == IPAddress("0.0.0.0")! || listen.address == IPAddress("::")!
        return candidatePort == listen.port && (wildcard || listen.address == candidate)
    }
}

import IPVS
import KubernetesManifests
import ServiceTables

/// The desired state a configuration's manifests describe, without a kernel (`ipvsd check`).
public enum AgentPreview {
    /// The desired state `run` would program, loaded exactly as `run` loads it; the state file is read as
    /// strictly as `run` reads it, but never changed.
    /// - Throws: ``AgentError`` when the state file is unsafe, unreadable or corrupt (run refuses the first
    ///   two and sets a corrupt one aside), ``ManifestErrors`` for the manifests.
    public static func desiredState(_ configuration: AgentConfiguration) throws -> (DesiredState, [String]) {
        let stateFile = AgentStateFile(path: configuration.stateFile)
        let loaded = try stateFile.load(setAsideCorrupt: false)
        if case .corrupt(let reason, _) = loaded {
            throw AgentError(
                .stateFile,
                "state file \(configuration.stateFile) is corrupt (\(reason)); `ipvsd run` would set it aside as "
                    + "\(configuration.stateFile).corrupt and recover ownership from the VIPs on \(configuration.interface)"
            )
        }
        _ = try loaded.state.ownedIDs()
        let load = try DesiredStateLoad.load(
            configuration,
            translation: try TranslationOptions(configuration),
            allocations: ClusterIPAllocations(addresses: loaded.state.clusterIPs)
        )
        return (load.state, load.notes)
    }

    static func kindName(_ kind: HealthCheckSpec.Kind) -> String {
        switch kind {
        case .tcp: "tcp"
        case .http(let probe): "http \(probe.path)"
        case .https(let probe): "https \(probe.path)"
        case .udp: "udp"
        case .command(let argv): "command \(argv.joined(separator: " "))"
        case .grpc(let service): service.isEmpty ? "grpc" : "grpc \(service)"
        }
    }

    /// `10.96.100.50:80/tcp rr  default/backend-api:http` and one line per endpoint, as lines (joining one
    /// text and splitting it again by Characters was a third of `ipvsd check` at 10k x 10).
    public static func lines(_ state: DesiredState) -> [String] {
        var lines: [String] = []
        for id in state.virtualServers.keys.sorted() {
            let service = state.virtualServers[id]!
            var line = "\(id) \(service.virtualServer.scheduler.rawValue)"
            if service.virtualServer.isPersistent { line += " persistent \(service.virtualServer.timeout)" }
            line += "  \(service.origin)"
            if let check = service.healthCheck { line += "  health \(kindName(check.kind))" }
            lines.append(line)
            for rsID in service.realServers.keys.sorted() {
                let server = service.realServers[rsID]!
                var flags: [String] = []
                if server.conditions.ready { flags.append("ready") }
                if server.conditions.serving { flags.append("serving") }
                if server.conditions.terminating { flags.append("terminating") }
                var line = "  -> \(rsID) weight \(server.realServer.weight) \(flags.joined(separator: ","))"
                if !server.target.isEmpty { line += "  \(server.target)" }
                lines.append(line)
            }
        }
        return lines
    }
}

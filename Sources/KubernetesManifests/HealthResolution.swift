import IPVS
import ServiceTables
import YAMLSyntax

/// Combines a Service's health annotations with the agent's default check.
enum HealthResolution {
    /// The check for the Service, nil when off; errors name the annotation that does not fit.
    static func spec(for service: Service, defaults: HealthCheckSpec?) throws(LocatedError) -> HealthCheckSpec? {
        let o = service.overrides
        func error(_ name: String, _ message: String) -> LocatedError {
            LocatedError(
                file: service.location.file,
                line: o.lines[name] ?? service.location.line,
                field: "metadata.annotations[\(Annotations.prefix)\(name)]",
                message: message
            )
        }
        var spec: HealthCheckSpec
        switch o.healthKind {
        case .none?:
            return nil
        case nil:
            guard let defaults else {
                if let key = o.healthKeysGiven.first {
                    throw error(key, "health checks are off by default: set \(Annotations.prefix)health-check too")
                }
                return nil
            }
            spec = defaults
        case let kind?:
            spec = defaults ?? HealthCheckSpec()
            spec.kind = Self.kind(kind, keeping: spec.kind)
        }
        if let value = o.healthInterval { spec.interval = value }
        if let value = o.healthTimeout { spec.timeout = value }
        if let value = o.healthRise { spec.rise = value }
        if let value = o.healthFall { spec.fall = value }
        if let value = o.healthJitter { spec.jitter = value }
        if let value = o.healthPort { spec.port = value }
        if let value = o.healthFailureAction { spec.failureAction = value }

        let httpGiven = ServiceOverrides.httpKeys.filter { o.lines[$0] != nil }
        switch spec.kind {
        case .http(let probe): spec.kind = .http(apply(o, to: probe))
        case .https(let probe): spec.kind = .https(apply(o, to: probe))
        case .udp(let payload, let expect): spec.kind = .udp(payload: o.healthUDPPayload ?? payload, expect: expect)
        case .command(let argv):
            let command = o.healthCommand ?? argv
            guard !command.isEmpty else {
                throw error("health-check", "a command check needs \(Annotations.prefix)health-command")
            }
            spec.kind = .command(argv: command)
        case .grpc(let service): spec.kind = .grpc(service: o.healthGRPCService ?? service)
        case .tcp: break
        }
        if let key = httpGiven.first, !spec.kind.isHTTP {
            throw error(key, "applies only to http and https checks")
        }
        if o.healthUDPPayload != nil, !spec.kind.isUDP {
            throw error("health-udp-payload", "applies only to udp checks")
        }
        if o.healthCommand != nil, !spec.kind.isCommand {
            throw error("health-command", "applies only to command checks")
        }
        if o.healthGRPCService != nil, !spec.kind.isGRPC {
            throw error("health-grpc-service", "applies only to grpc checks")
        }
        return spec
    }

    /// The kind an annotation names, keeping the default's parameters when it is the same kind.
    private static func kind(
        _ name: ServiceOverrides.HealthKind,
        keeping current: HealthCheckSpec.Kind
    )
        -> HealthCheckSpec.Kind
    {
        switch (name, current) {
        case (.http, .http), (.https, .https), (.udp, .udp), (.command, .command), (.grpc, .grpc), (.tcp, .tcp):
            current
        case (.http, .https(let probe)): .http(probe)
        case (.https, .http(let probe)): .https(probe)
        case (.http, _): .http(HealthCheckSpec.HTTPProbe())
        case (.https, _): .https(HealthCheckSpec.HTTPProbe())
        case (.udp, _): .udp(payload: [], expect: nil)
        case (.command, _): .command(argv: [])
        case (.grpc, _): .grpc(service: "")
        case (.tcp, _), (.none, _): .tcp
        }
    }

    private static func apply(_ o: ServiceOverrides, to probe: HealthCheckSpec.HTTPProbe) -> HealthCheckSpec.HTTPProbe {
        var probe = probe
        if let value = o.healthPath { probe.path = value }
        if let value = o.healthHost { probe.host = value }
        if let value = o.healthStatus { probe.expectedStatus = value }
        if let value = o.healthBody { probe.bodyContains = value }
        return probe
    }
}

extension HealthCheckSpec.Kind {
    fileprivate var isHTTP: Bool {
        switch self {
        case .http, .https: true
        default: false
        }
    }
    fileprivate var isUDP: Bool {
        if case .udp = self { return true }
        return false
    }
    fileprivate var isCommand: Bool {
        if case .command = self { return true }
        return false
    }
    fileprivate var isGRPC: Bool {
        if case .grpc = self { return true }
        return false
    }
}

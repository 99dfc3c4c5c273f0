import ServiceTables
import YAMLSyntax

extension AgentConfiguration {
    /// The `health:` section: defaults for TCP services, which annotations override per Service.
    static func parseHealth(_ node: LocatedYAML, into config: inout AgentConfiguration) -> [LocatedError] {
        var errors = node.unknownKeys(allowed: [
            "enabled", "kind", "path", "host", "status", "body", "interval", "timeout", "rise", "fall", "jitter",
            "port", "failureAction", "allDown", "maxConcurrentChecks", "grpcService",
        ])
        var spec = config.health.spec
        var probe = HealthCheckSpec.HTTPProbe()
        var kind = "tcp"
        let grpcService = node["grpcService"]
        func attempt(_ body: () throws(LocatedError) -> Void) {
            do throws(LocatedError) { try body() } catch { errors.append(error) }
        }
        // One attempt per key, so a bad `rise` does not hide a bad `fall`.
        attempt { () throws(LocatedError) in
            if let value = try node.bool("enabled") { config.health.enabled = value }
        }
        attempt { () throws(LocatedError) in
            if let value = try node.int("maxConcurrentChecks", in: 1...1_000_000) {
                config.health.maxConcurrentChecks = value
            }
        }
        attempt { () throws(LocatedError) in
            if let value = try node.int("rise", in: 1...100) { spec.rise = value }
        }
        attempt { () throws(LocatedError) in
            if let value = try node.int("fall", in: 1...100) { spec.fall = value }
        }
        attempt { () throws(LocatedError) in
            if let value = try node.int("port", in: 1...65535) { spec.port = UInt16(value) }
        }
        attempt { () throws(LocatedError) in
            if let value = try node.string("path") { probe.path = value }
        }
        attempt { () throws(LocatedError) in
            if let value = try node.string("host") { probe.host = value }
        }
        attempt { () throws(LocatedError) in
            if let value = try node.string("body") { probe.bodyContains = value }
        }
        attempt { () throws(LocatedError) in
            guard let item = node["kind"] else { return }
            kind = try item.asString()
            guard ["tcp", "http", "https", "grpc"].contains(kind) else {
                throw item.error(
                    "must be tcp, http, https or grpc (udp and command checks are set per Service), got \"\(kind)\""
                )
            }
        }
        let durations = [
            ("interval", \HealthCheckSpec.interval, ConfigurationBounds.healthInterval),
            ("timeout", \HealthCheckSpec.timeout, ConfigurationBounds.healthTimeout),
        ]
        for (key, keyPath, bounds) in durations {
            attempt { () throws(LocatedError) in
                guard let item = node[key] else { return }
                spec[keyPath: keyPath] = try item.asDuration(in: bounds)
            }
        }
        attempt { () throws(LocatedError) in
            guard let item = node["jitter"] else { return }
            guard let text = item.node.scalar?.string, let value = Double(text), (0...0.5).contains(value) else {
                throw item.error("must be a fraction from 0 to 0.5")
            }
            spec.jitter = value
        }
        attempt { () throws(LocatedError) in
            guard let item = node["status"] else { return }
            let text = try item.asString()
            let bounds = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard (1...2).contains(bounds.count), let low = bounds.first!, let high = bounds.last!,
                (100...599).contains(low), (low...599).contains(high)
            else { throw item.error("must be a status code or range such as 200 or 200-399, got \"\(text)\"") }
            probe.expectedStatus = low...high
        }
        attempt { () throws(LocatedError) in
            guard let item = node["failureAction"] else { return }
            let text = try item.asString()
            guard let action = HealthCheckSpec.FailureAction(rawValue: text) else {
                throw item.error("must be delete or weight-zero, got \"\(text)\"")
            }
            spec.failureAction = action
        }
        attempt { () throws(LocatedError) in
            guard let item = node["allDown"] else { return }
            let text = try item.asString()
            guard let policy = AllDownPolicy(rawValue: text) else {
                throw item.error("must be keep-all or remove-all, got \"\(text)\"")
            }
            config.health.allDownPolicy = policy
        }
        if spec.timeout > spec.interval {
            errors.append(
                node.error(
                    "timeout (\(ConfigurationBounds.text(spec.timeout))) must not exceed interval "
                        + "(\(ConfigurationBounds.text(spec.interval)))"
                )
            )
        }
        var service = ""
        attempt { () throws(LocatedError) in
            guard let grpcService else { return }
            service = try grpcService.asString()
            guard kind == "grpc" else { throw grpcService.error("applies only to kind grpc") }
        }
        switch kind {
        case "http": spec.kind = .http(probe)
        case "https": spec.kind = .https(probe)
        case "grpc": spec.kind = .grpc(service: service)
        default: spec.kind = .tcp
        }
        config.health.spec = spec
        return errors
    }
}

import Foundation
import IPVS
import KubernetesManifests
import LoadBalancer

extension AgentConfiguration {
    /// Reads a config file. Every key is optional; unknown keys and bad values are errors naming the file,
    /// line and key, so a typo never silently falls back to a default.
    public static func load(path: String) throws(ManifestErrors) -> AgentConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ManifestErrors([ManifestError(file: path, line: nil, field: "", message: "cannot read: \(error)")])
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ManifestErrors) -> AgentConfiguration {
        var config = AgentConfiguration()
        var errors: [ManifestError] = []
        func attempt(_ body: () throws(ManifestError) -> Void) {
            do throws(ManifestError) { try body() } catch { errors.append(error) }
        }
        let root: LocatedYAML
        do throws(ManifestError) {
            root = try LocatedYAML.parse(text, file: file)
            _ = try root.asMapping()
        } catch {
            throw ManifestErrors([error])
        }
        errors += root.unknownKeys(allowed: [
            "manifests", "stateFile", "interface", "bindAddresses", "scheduler", "weight", "serviceCIDRs",
            "resyncPeriod", "debounce", "watchInterval", "gracePeriod", "drainCheckInterval", "maxRetryBackoff",
            "metricsAddress", "kernelStatistics", "adminSocket", "networkNamespace", "sysctls", "health",
        ])
        attempt { () throws(ManifestError) in
            if let value = try root.string("manifests") { config.manifests = value }
            if let value = try root.string("stateFile") { config.stateFile = value }
            if let value = try root.string("adminSocket") { config.adminSocket = value }
            if let value = try root.string("networkNamespace") { config.networkNamespace = value }
        }
        attempt { () throws(ManifestError) in
            guard let node = root["interface"] else { return }
            let name = try node.asString()
            guard (1...15).contains(name.utf8.count), !name.contains("/"), !name.contains(" ") else {
                throw node.error("must be an interface name of 1 to 15 characters without / or spaces, got \"\(name)\"")
            }
            config.interface = name
        }
        attempt { () throws(ManifestError) in
            if let value = try root.bool("bindAddresses") { config.bindAddresses = value }
            if let value = try root.bool("kernelStatistics") { config.kernelStatistics = value }
            if let value = try root.int("weight", in: 0...Int(Int32.max)) { config.weight = UInt32(value) }
        }
        attempt { () throws(ManifestError) in
            guard let node = root["scheduler"] else { return }
            config.scheduler = try scheduler(node)
        }
        attempt { () throws(ManifestError) in
            guard let list = try root.list("serviceCIDRs") else { return }
            var cidrs: [String] = []
            for item in list {
                let text = try item.asString()
                guard IPNetwork(text) != nil else {
                    throw item.error("must be a CIDR such as 10.96.0.0/12 or fd00:10:96::/112, got \"\(text)\"")
                }
                cidrs.append(text)
            }
            config.serviceCIDRs = cidrs
        }
        let durations: [(String, WritableKeyPath<AgentConfiguration, Duration>)] = [
            ("resyncPeriod", \.resyncPeriod), ("debounce", \.debounce), ("watchInterval", \.watchInterval),
            ("gracePeriod", \.gracePeriod), ("drainCheckInterval", \.drainCheckInterval),
            ("maxRetryBackoff", \.maxRetryBackoff),
        ]
        for (key, keyPath) in durations {
            attempt { () throws(ManifestError) in
                guard let node = root[key] else { return }
                let value = try node.asDuration()
                guard value >= .zero, key == "debounce" || key == "gracePeriod" || value > .zero else {
                    throw node.error("must be a positive duration such as 500ms or 30s")
                }
                config[keyPath: keyPath] = value
            }
        }
        attempt { () throws(ManifestError) in
            guard let node = root["metricsAddress"] else { return }
            let value = try node.asString()
            if !value.isEmpty {
                do throws(AgentError) { _ = try MetricsServer.parse(value) } catch {
                    throw node.error("must be HOST:PORT such as 127.0.0.1:9750, or empty to disable")
                }
            }
            config.metricsAddress = value
        }
        if let node = root["sysctls"] { errors += parseSysctls(node, into: &config) }
        if let node = root["health"] { errors += parseHealth(node, into: &config) }
        guard errors.isEmpty else { throw ManifestErrors(errors) }
        return config
    }

    static func scheduler(_ node: LocatedYAML) throws(ManifestError) -> Scheduler {
        let name = try node.asString()
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber }) else {
            throw node.error("must be an IPVS scheduler name such as rr, wrr, lc, wlc, sh or mh, got \"\(name)\"")
        }
        return Scheduler(rawValue: name)
    }

    private static func parseSysctls(_ node: LocatedYAML, into config: inout AgentConfiguration) -> [ManifestError] {
        var errors = node.unknownKeys(allowed: [
            "manage", "conntrack", "expireNodestConn", "expireQuiescentTemplate", "connReuseMode", "strictARP",
        ])
        do throws(ManifestError) {
            if let value = try node.bool("manage") { config.manageSysctls = value }
            if let value = try node.bool("conntrack") { config.sysctls.conntrack = value }
            if let value = try node.bool("expireNodestConn") { config.sysctls.expireNodestConn = value }
            if let value = try node.bool("expireQuiescentTemplate") { config.sysctls.expireQuiescentTemplate = value }
            if let value = try node.int("connReuseMode", in: 0...2) { config.sysctls.connReuseMode = value }
            if let value = try node.bool("strictARP") { config.sysctls.strictARP = value }
        } catch {
            errors.append(error)
        }
        return errors
    }
}

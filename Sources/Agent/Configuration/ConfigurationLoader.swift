import Foundation
import IPVS
import ServiceTables
import YAMLSyntax

extension AgentConfiguration {
    /// Reads a config file. Every key is optional; unknown keys and bad values are errors naming the file,
    /// line and key, so a typo never silently falls back to a default.
    public static func load(path: String) throws(ConfigurationErrors) -> AgentConfiguration {
        func failure(_ message: String) -> ConfigurationErrors {
            ConfigurationErrors([LocatedError(file: path, line: nil, field: "", message: message)])
        }
        let bytes: [UInt8]
        switch BoundedFile.read(path, limit: maxFileSize, regularOnly: false) {
        case .success(let value): bytes = value
        case .failure(.errno(let code)): throw failure("cannot read: \(IPVSError.describe(errno: code))")
        case .failure(.tooLarge):
            throw failure("is larger than \(BoundedFile.describe(limit: maxFileSize)), the config file size limit")
        case .failure(.notRegular): throw failure("is not a regular file")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw failure("is not UTF-8 text") }
        return try parse(text, file: path)
    }

    /// The largest config file read, 1 MiB (as a kubeconfig): a real one is a few hundred bytes.
    public static let maxFileSize = 1 << 20

    /// Parses a config file's text.
    /// - Throws: ``ConfigurationErrors`` with every problem found, each checked on its own, so one run shows
    ///   them all.
    public static func parse(_ text: String, file: String) throws(ConfigurationErrors) -> AgentConfiguration {
        var config = AgentConfiguration()
        var errors: [LocatedError] = []
        func attempt(_ body: () throws(LocatedError) -> Void) {
            do throws(LocatedError) { try body() } catch { errors.append(error) }
        }
        let root: LocatedYAML
        do throws(LocatedError) {
            root = try LocatedYAML.parse(text, file: file)
            try root.checkMapping()
        } catch {
            throw ConfigurationErrors([error])
        }
        errors += root.unknownKeys(allowed: [
            "manifests", "stateFile", "interface", "bindAddresses", "scheduler", "weight", "serviceCIDRs",
            "resyncPeriod", "debounce", "watchInterval", "gracePeriod", "drainCheckInterval", "maxRetryBackoff",
            "metricsAddress", "kernelStatistics", "adminSocket", "networkNamespace", "sysctls", "health",
            "nodeName", "zone", "masquerade", "nodePortAddresses", "kubernetes",
            "dns",
        ])
        let paths: [(String, WritableKeyPath<AgentConfiguration, String>, (String) -> String?)] = [
            ("manifests", \.manifests, { $0.isEmpty ? "must be a file or directory path, got \"\"" : nil }),
            ("stateFile", \.stateFile, ConfigurationRules.stateFileProblem),
            ("adminSocket", \.adminSocket, ConfigurationRules.socketPathProblem),
            ("interface", \.interface, ConfigurationRules.interfaceProblem),
            ("networkNamespace", \.networkNamespace, { _ in nil }),
            ("nodeName", \.nodeName, { $0.isEmpty ? nil : ConfigurationRules.nodeNameProblem($0) }),
            ("zone", \.zone, ConfigurationRules.zoneProblem),
        ]
        for (key, keyPath, problem) in paths {
            attempt { () throws(LocatedError) in
                guard let node = root[key] else { return }
                let value = try node.asString()
                if let message = problem(value) { throw node.error(message) }
                config[keyPath: keyPath] = value
            }
        }
        attempt { () throws(LocatedError) in
            if let value = try root.bool("bindAddresses") { config.bindAddresses = value }
        }
        attempt { () throws(LocatedError) in
            if let value = try root.bool("kernelStatistics") { config.kernelStatistics = value }
        }
        attempt { () throws(LocatedError) in
            if let value = try root.int("weight", in: RealServer.weights.asInts) { config.weight = UInt32(value) }
        }
        attempt { () throws(LocatedError) in
            guard let node = root["scheduler"] else { return }
            config.scheduler = try scheduler(node)
        }
        if let node = root["serviceCIDRs"] { errors += parseServiceCIDRs(node, into: &config) }
        let durations: [(String, WritableKeyPath<AgentConfiguration, Duration>, ClosedRange<Duration>)] = [
            ("resyncPeriod", \.resyncPeriod, ConfigurationBounds.resyncPeriod),
            ("debounce", \.debounce, ConfigurationBounds.debounce),
            ("watchInterval", \.watchInterval, ConfigurationBounds.watchInterval),
            ("gracePeriod", \.gracePeriod, ConfigurationBounds.gracePeriod),
            ("drainCheckInterval", \.drainCheckInterval, ConfigurationBounds.drainCheckInterval),
            ("maxRetryBackoff", \.maxRetryBackoff, ConfigurationBounds.maxRetryBackoff),
        ]
        for (key, keyPath, bounds) in durations {
            attempt { () throws(LocatedError) in
                guard let node = root[key] else { return }
                config[keyPath: keyPath] = try node.asDuration(in: bounds)
            }
        }
        attempt { () throws(LocatedError) in
            guard let node = root["metricsAddress"] else { return }
            let value = try node.asString()
            if !value.isEmpty {
                do throws(ListenAddress.ParseError) { _ = try ListenAddress(parsing: value) } catch {
                    throw node.error(
                        "must be IP:PORT such as 127.0.0.1:9750 or [::1]:9750, or empty to disable: \(error)"
                    )
                }
            }
            config.metricsAddress = value
        }
        attempt { () throws(LocatedError) in
            guard let node = root["masquerade"] else { return }
            guard let mode = MasqueradeMode(rawValue: try node.asString()) else {
                throw node.error("must be hairpin, all or none, got \(node.rendered)")
            }
            config.masquerade = mode
        }
        attempt { () throws(LocatedError) in
            guard let node = root["nodePortAddresses"] else { return }
            config.nodePortAddresses = try node.asList().map { item throws(LocatedError) in
                let text = try item.asString()
                guard IPNetwork(text) != nil else {
                    throw item.error("must be a CIDR such as 192.168.0.0/16 or ::/0, got \"\(text)\"")
                }
                return text
            }
        }
        if let node = root["sysctls"] { errors += parseSysctls(node, into: &config) }
        if let node = root["health"] { errors += parseHealth(node, into: &config) }
        if let node = root["dns"] { errors += parseDNS(node, into: &config) }
        if let node = root["kubernetes"] { errors += parseKubernetes(node, into: &config) }
        if errors.isEmpty, config.masquerade != .none, config.manageSysctls, !config.sysctls.conntrack {
            // Without IPVS connection tracking the nat postrouting hook never sees IPVS's packets.
            errors.append(
                LocatedError(
                    file: file,
                    line: root["sysctls"]?["conntrack"]?.line,
                    field: "sysctls.conntrack",
                    message: "must be true when masquerade is \(config.masquerade.rawValue): IPVS connection "
                        + "tracking is what lets netfilter masquerade its packets (or set masquerade: none)"
                )
            )
        }
        guard errors.isEmpty else { throw ConfigurationErrors(errors) }
        return config
    }

    static func scheduler(_ node: LocatedYAML) throws(LocatedError) -> Scheduler {
        let name = try node.asString()
        guard let scheduler = Scheduler.known.first(where: { $0.rawValue == name }) else {
            let names = Scheduler.known.map(\.rawValue).joined(separator: ", ")
            throw node.error("must be one of the kernel's IPVS schedulers \(names), got \(node.rendered)")
        }
        return scheduler
    }

    /// At most one CIDR per family, each no larger than kube-apiserver allows and clear of special ranges.
    private static func parseServiceCIDRs(
        _ node: LocatedYAML,
        into config: inout AgentConfiguration
    ) -> [LocatedError] {
        let list: [LocatedYAML]
        do throws(LocatedError) { list = try node.asList() } catch { return [error] }
        var errors: [LocatedError] = []
        var cidrs: [String] = []
        var families: [AddressFamily: IPNetwork] = [:]
        for item in list {
            do throws(LocatedError) {
                let text = try item.asString()
                guard let network = IPNetwork(text) else {
                    throw item.error("must be a CIDR such as 10.96.0.0/12 or fd00:10:96::/112, got \"\(text)\"")
                }
                if let problem = ConfigurationRules.serviceCIDRProblem(network) { throw item.error(problem) }
                if let first = families[network.family] {
                    throw item.error("must be at most one CIDR per address family, \(first) is already given")
                }
                families[network.family] = network
                cidrs.append(text)
            } catch {
                errors.append(error)
            }
        }
        if errors.isEmpty { config.serviceCIDRs = cidrs }
        return errors
    }

    private static func parseSysctls(_ node: LocatedYAML, into config: inout AgentConfiguration) -> [LocatedError] {
        var errors = node.unknownKeys(allowed: [
            "manage", "conntrack", "expireNodestConn", "expireQuiescentTemplate", "connReuseMode", "strictARP",
        ])
        let flags: [(String, WritableKeyPath<AgentConfiguration, Bool>)] = [
            ("manage", \.manageSysctls), ("conntrack", \.sysctls.conntrack),
            ("expireNodestConn", \.sysctls.expireNodestConn),
            ("expireQuiescentTemplate", \.sysctls.expireQuiescentTemplate), ("strictARP", \.sysctls.strictARP),
        ]
        for (key, keyPath) in flags {
            do throws(LocatedError) {
                if let value = try node.bool(key) { config[keyPath: keyPath] = value }
            } catch {
                errors.append(error)
            }
        }
        do throws(LocatedError) {
            if let value = try node.int("connReuseMode", in: 0...2) { config.sysctls.connReuseMode = value }
        } catch {
            errors.append(error)
        }
        return errors
    }
}

extension LocatedYAML {
    /// The node as a duration within `bounds`.
    func asDuration(in bounds: ClosedRange<Duration>) throws(LocatedError) -> Duration {
        let value = try asDuration()
        if let message = ConfigurationBounds.violation(value, of: bounds) { throw error(message) }
        return value
    }
}

import Foundation
import IPVS
import ServiceTables
import YAMLSyntax

/// Reads `ipvsd.io/` annotations into `ServiceOverrides`; every bad value is an error naming its key.
enum Annotations {
    static let prefix = "ipvsd.io/"

    private static let schedulerFlagNames: [String: ServiceFlags] = [
        "sh-fallback": .sourceHashFallback, "sh-port": .sourceHashPort, "mh-fallback": .maglevFallback,
        "mh-port": .maglevPort, "flag-1": .scheduler1, "flag-2": .scheduler2, "flag-3": .scheduler3,
    ]

    /// Parses `metadata.annotations`, appending an error per bad annotation to `errors`.
    static func parse(_ annotations: LocatedYAML?, errors: inout [LocatedError]) -> ServiceOverrides {
        var overrides = ServiceOverrides()
        guard let annotations else { return overrides }
        let entries: [(key: String, value: LocatedYAML)]
        do throws(LocatedError) {
            entries = try annotations.asMapping()
        } catch {
            errors.append(error)
            return overrides
        }
        for (key, value) in entries where key.hasPrefix(prefix) {
            let name = String(key.dropFirst(prefix.count))
            do throws(LocatedError) {
                let text = try value.asString()
                try apply(name, text, value, to: &overrides)
                overrides.lines[name] = value.line
            } catch {
                errors.append(error)
            }
        }
        return overrides
    }

    private static func apply(
        _ name: String,
        _ text: String,
        _ node: LocatedYAML,
        to o: inout ServiceOverrides
    ) throws(LocatedError) {
        switch name {
        case "scheduler":
            guard let scheduler = Scheduler.known.first(where: { $0.rawValue == text }) else {
                let names = Scheduler.known.map(\.rawValue).joined(separator: ", ")
                throw node.error("must be one of \(names), got \(node.rendered)")
            }
            o.scheduler = scheduler
        case "scheduler-flags":
            var flags: ServiceFlags = []
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                let word = part.trimmingCharacters(in: .whitespaces)
                guard let flag = schedulerFlagNames[word] else {
                    let names = schedulerFlagNames.keys.sorted().joined(separator: ", ")
                    throw node.error("unknown scheduler flag \"\(word)\" (known: \(names))")
                }
                flags.insert(flag)
            }
            o.schedulerFlags = flags
        case "weight": o.weight = UInt32(try integer(text, node, RealServer.weights.asInts))
        case "health-check": o.healthKind = try oneOf(text, node)
        case "health-path":
            guard text.hasPrefix("/") else { throw node.error("must start with /, got \(node.rendered)") }
            o.healthPath = text
        case "health-host": o.healthHost = text
        case "health-status": o.healthStatus = try statusRange(text, node)
        case "health-body": o.healthBody = text
        case "health-interval": o.healthInterval = try positiveDuration(text, node)
        case "health-timeout": o.healthTimeout = try positiveDuration(text, node)
        case "health-rise": o.healthRise = try integer(text, node, 1...100)
        case "health-fall": o.healthFall = try integer(text, node, 1...100)
        case "health-port": o.healthPort = UInt16(try integer(text, node, 1...65535))
        case "health-jitter":
            guard let jitter = Double(text), (0...0.5).contains(jitter) else {
                throw node.error("must be a number 0...0.5, got \(node.rendered)")
            }
            o.healthJitter = jitter
        case "health-failure-action": o.healthFailureAction = try oneOf(text, node)
        case "health-all-down": o.allDownPolicy = try oneOf(text, node)
        case "health-command":
            guard let argv = try? JSONDecoder().decode([String].self, from: Data(text.utf8)), !argv.isEmpty,
                !argv[0].isEmpty
            else { throw node.error("must be a JSON array of strings such as [\"/bin/check\", \"-v\"]") }
            o.healthCommand = argv
        case "health-udp-payload": o.healthUDPPayload = Array(text.utf8)
        case "health-grpc-service":
            guard !text.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true }) else {
                throw node.error(
                    "must be a gRPC service name without spaces such as my.pkg.Orders, got \(node.rendered)"
                )
            }
            o.healthGRPCService = text
        default: throw node.error("unknown ipvsd.io annotation")
        }
    }

    private static func integer(
        _ text: String,
        _ node: LocatedYAML,
        _ range: ClosedRange<Int>
    ) throws(LocatedError)
        -> Int
    {
        guard let value = Int(text), range.contains(value) else {
            throw node.error("must be an integer \(range.lowerBound)...\(range.upperBound), got \(node.rendered)")
        }
        return value
    }

    private static func positiveDuration(_ text: String, _ node: LocatedYAML) throws(LocatedError) -> Duration {
        guard let duration = GoDuration.parse(text), duration > .zero else {
            throw node.error("must be a positive duration such as 500ms, 2s or 1m, got \(node.rendered)")
        }
        return duration
    }

    private static func statusRange(_ text: String, _ node: LocatedYAML) throws(LocatedError) -> ClosedRange<Int> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        let bounds = parts.compactMap { $0 }
        guard bounds.count == parts.count, (1...2).contains(bounds.count), bounds.allSatisfy((100...599).contains),
            bounds[0] <= bounds[bounds.count - 1]
        else { throw node.error("must be a status code or range such as 200 or 200-299, got \(node.rendered)") }
        return bounds[0]...bounds[bounds.count - 1]
    }

    private static func oneOf<T: RawRepresentable & CaseIterable>(
        _ text: String,
        _ node: LocatedYAML
    )
        throws(LocatedError) -> T where T.RawValue == String
    {
        guard let value = T(rawValue: text) else {
            let names = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw node.error("must be one of \(names), got \(node.rendered)")
        }
        return value
    }
}

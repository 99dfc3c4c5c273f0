import FoundationEssentials

/// `GET /v1/explain?target=NAMESPACE/NAME` (or `target=ADDRESS:PORT`): what the agent and the kernel know
/// about one Service, gathered by the agent and judged by ``ExplainChecks`` (which does no I/O), so every
/// verdict is tested from hand-built facts.
///
/// Lists are bounded: at most ``maxPortsShown`` virtual servers, ``maxEndpointsShown`` endpoints per port (the
/// counts are always complete) and ``maxLinesShown`` sync errors or manifest errors.
public struct ExplainFacts: Codable, Sendable, Equatable {
    public static let maxEndpointsShown = 100
    public static let maxLinesShown = 20
    /// Virtual servers listed (a Service's ports times its addresses); the rest are counted in `portsOmitted`.
    public static let maxPortsShown = 64

    /// What was asked, as given.
    public var target: String
    /// `namespace/name` of the Service the target names; nil when the agent knows no such Service.
    public var service: String?
    /// Services the agent knows (from its last good manifest load).
    public var knownServices: Int
    /// Manifest errors of the last load, if it failed (the agent then serves the last good state).
    public var manifestErrors: [String]
    /// `clusterIP: None`.
    public var headless: Bool
    public var clusterIPs: [String]
    /// For a headless Service: how many ready endpoint addresses its DNS name returns.
    public var headlessAddresses: Int
    /// The Service's DNS name when ipvsd serves DNS; nil when it does not.
    public var dnsName: String?
    public var ports: [ExplainPort]
    /// Virtual servers of the Service beyond ``maxPortsShown``, not listed nor checked.
    public var portsOmitted: Int = 0
    public var vips: [ExplainVIP]
    /// The dummy interface the agent binds VIPs on, when `bindAddresses` is on; nil otherwise.
    public var interface: String?
    public var sysctls: [ExplainSysctl]
    public var modules: [ExplainModule]
    /// Refused operations and the last sync error that mention this Service's virtual servers.
    public var syncErrors: [String]
    /// Seconds between the two reads of the kernel's counters.
    public var secondsBetweenReads: Double

    public init(
        target: String,
        service: String? = nil,
        knownServices: Int = 0,
        manifestErrors: [String] = [],
        headless: Bool = false,
        clusterIPs: [String] = [],
        headlessAddresses: Int = 0,
        dnsName: String? = nil,
        ports: [ExplainPort] = [],
        vips: [ExplainVIP] = [],
        interface: String? = nil,
        sysctls: [ExplainSysctl] = [],
        modules: [ExplainModule] = [],
        syncErrors: [String] = [],
        secondsBetweenReads: Double = 0
    ) {
        self.target = target
        self.service = service
        self.knownServices = knownServices
        self.manifestErrors = manifestErrors
        self.headless = headless
        self.clusterIPs = clusterIPs
        self.headlessAddresses = headlessAddresses
        self.dnsName = dnsName
        self.ports = ports
        self.vips = vips
        self.interface = interface
        self.sysctls = sysctls
        self.modules = modules
        self.syncErrors = syncErrors
        self.secondsBetweenReads = secondsBetweenReads
    }
}

/// The `target` of an explain request: `NAMESPACE/NAME` (Kubernetes names: lower-case letters, digits, '-'
/// and '.') or `ADDRESS:PORT` (`10.96.0.10:80`, `[fd00::a]:80`), at most 256 characters.
public enum ExplainTarget {
    public static let maxLength = 256

    /// Why `text` is not a target, or nil when it is one.
    public static func problem(_ text: String) -> String? {
        guard !text.isEmpty else { return "target is empty: give NAMESPACE/NAME or ADDRESS:PORT" }
        guard text.utf8.count <= maxLength else { return "target is longer than \(maxLength) characters" }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-./:[]ABCDEF".utf8)
        guard text.utf8.allSatisfy(allowed.contains) else {
            return "target \"\(text)\" is neither NAMESPACE/NAME nor ADDRESS:PORT"
        }
        if text.contains("/") {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && !$0.contains(":") }) else {
                return "target \"\(text)\" is not NAMESPACE/NAME"
            }
        } else if !text.contains(":") {
            return "target \"\(text)\" needs a namespace (NAMESPACE/NAME) or a port (ADDRESS:PORT)"
        }
        return nil
    }
}

/// One virtual server of the Service: desired, as the kernel holds it, and its endpoints.
public struct ExplainPort: Codable, Sendable, Equatable {
    /// `10.96.0.10:80/tcp`.
    public var virtualServer: String
    /// `http`; empty for an unnamed port.
    public var portName: String
    /// The desired scheduler (`rr`), with ` persistent N` for ClientIP affinity.
    public var desired: String
    /// The same as the kernel holds it; nil when the kernel has no such virtual server.
    public var kernel: String?
    /// A virtual server another tool created holds the address: the agent leaves it alone.
    public var conflict: Bool
    /// Every endpoint counted, even those not listed.
    public var counts: EndpointCounts
    /// At most ``ExplainFacts/maxEndpointsShown``, serving ones first.
    public var endpoints: [ExplainEndpoint]
    /// Real servers in the kernel the agent does not know for this port: `10.244.9.9:8080 weight 1`.
    public var kernelOnly: [String]
    /// The kernel's counters at the first and second read; nil when the kernel has no such virtual server.
    public var first: ExplainCounters?
    public var second: ExplainCounters?

    public init(
        virtualServer: String,
        portName: String = "",
        desired: String = "rr",
        kernel: String? = nil,
        conflict: Bool = false,
        counts: EndpointCounts = EndpointCounts(),
        endpoints: [ExplainEndpoint] = [],
        kernelOnly: [String] = [],
        first: ExplainCounters? = nil,
        second: ExplainCounters? = nil
    ) {
        self.virtualServer = virtualServer
        self.portName = portName
        self.desired = desired
        self.kernel = kernel
        self.conflict = conflict
        self.counts = counts
        self.endpoints = endpoints
        self.kernelOnly = kernelOnly
        self.first = first
        self.second = second
    }
}

/// Endpoints by their Kubernetes conditions (an endpoint may count in several).
public struct EndpointCounts: Codable, Sendable, Equatable {
    public var total: Int
    public var ready: Int
    public var serving: Int
    public var terminating: Int

    public init(total: Int = 0, ready: Int = 0, serving: Int = 0, terminating: Int = 0) {
        self.total = total
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
    }
}

/// One endpoint of a port, as the agent sees it and as the kernel holds it.
public struct ExplainEndpoint: Codable, Sendable, Equatable {
    /// `10.244.1.15:8080`.
    public var address: String
    /// `serving`, `draining`, `health-failed`, `not-ready` or `pending` (``RealServerView/state``).
    public var state: String
    /// The weight the agent wants in the kernel; nil when it wants the real server out.
    public var desiredWeight: UInt32?
    /// The weight the kernel holds now; nil when the kernel does not have it.
    public var kernelWeight: UInt32?
    /// `ready,serving`, as Kubernetes reports them.
    public var conditions: String
    /// `up`, `down`, `unknown`; empty without health checks.
    public var health: String
    /// `ok` or the last probe's error; empty without health checks.
    public var lastProbe: String
    /// The pod, such as `production/api-7d4f9`.
    public var target: String

    public init(
        address: String,
        state: String,
        desiredWeight: UInt32? = nil,
        kernelWeight: UInt32? = nil,
        conditions: String = "ready,serving",
        health: String = "",
        lastProbe: String = "",
        target: String = ""
    ) {
        self.address = address
        self.state = state
        self.desiredWeight = desiredWeight
        self.kernelWeight = kernelWeight
        self.conditions = conditions
        self.health = health
        self.lastProbe = lastProbe
        self.target = target
    }
}

public struct ExplainCounters: Codable, Sendable, Equatable {
    public var connections: UInt64
    public var packetsIn: UInt64
    public var packetsOut: UInt64

    public init(connections: UInt64, packetsIn: UInt64, packetsOut: UInt64) {
        self.connections = connections
        self.packetsIn = packetsIn
        self.packetsOut = packetsOut
    }
}

public struct ExplainVIP: Codable, Sendable, Equatable {
    public var address: String
    /// Whether it is on the agent's interface; nil when it could not be read.
    public var bound: Bool?

    public init(address: String, bound: Bool?) {
        self.address = address
        self.bound = bound
    }
}

public struct ExplainSysctl: Codable, Sendable, Equatable {
    /// `net/ipv4/vs/conntrack`.
    public var name: String
    public var expected: String
    /// Nil when it cannot be read (the sysctl does not exist: the module is not loaded).
    public var actual: String?
    /// What it is for, for the fix.
    public var why: String

    public init(name: String, expected: String, actual: String?, why: String) {
        self.name = name
        self.expected = expected
        self.actual = actual
        self.why = why
    }
}

public struct ExplainModule: Codable, Sendable, Equatable {
    /// `ip_vs_rr`.
    public var name: String
    public var loaded: Bool
    public var why: String

    public init(name: String, loaded: Bool, why: String) {
        self.name = name
        self.loaded = loaded
        self.why = why
    }
}

/// The answer `ipvsctl explain --output json` prints: the facts and the verdicts.
public struct ExplainReport: Codable, Sendable, Equatable {
    public var facts: ExplainFacts
    public var checks: [ExplainCheck]
    /// True when any check failed (the command's exit status is then 1).
    public var failed: Bool

    public init(facts: ExplainFacts) {
        self.facts = facts
        checks = ExplainChecks.run(facts)
        failed = checks.contains { $0.status == .fail }
    }

    /// Pretty-printed JSON with sorted keys and a final newline.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Every field is a string, number, bool or array of those: encoding cannot fail.
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) + "\n" } ?? "{}\n"
    }
}

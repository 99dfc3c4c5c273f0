import AgentAPI
import Foundation
import Testing

/// Each cause `ipvsctl explain` names, from hand-built facts: the verdict, and that the fix says what to do.
@Suite struct ExplainChecksTests {
    /// A Service that works: every check passes.
    static func healthy() -> ExplainFacts {
        ExplainFacts(
            target: "production/backend-api",
            service: "production/backend-api",
            knownServices: 3,
            clusterIPs: ["10.96.0.10"],
            dnsName: "backend-api.production.svc.cluster.local",
            ports: [
                ExplainPort(
                    virtualServer: "10.96.0.10:80/tcp",
                    portName: "http",
                    desired: "rr",
                    kernel: "rr",
                    counts: EndpointCounts(total: 2, ready: 2, serving: 2, terminating: 0),
                    endpoints: [
                        ExplainEndpoint(
                            address: "10.244.1.5:8080",
                            state: "serving",
                            desiredWeight: 1,
                            kernelWeight: 1,
                            health: "up",
                            lastProbe: "ok"
                        ),
                        ExplainEndpoint(
                            address: "10.244.2.5:8080",
                            state: "serving",
                            desiredWeight: 1,
                            kernelWeight: 1,
                            health: "up",
                            lastProbe: "ok"
                        ),
                    ],
                    first: ExplainCounters(connections: 10, packetsIn: 100, packetsOut: 90),
                    second: ExplainCounters(connections: 12, packetsIn: 110, packetsOut: 99)
                )
            ],
            vips: [ExplainVIP(address: "10.96.0.10", bound: true)],
            interface: "ipvs0",
            sysctls: [
                ExplainSysctl(name: "net/ipv4/vs/conntrack", expected: "1", actual: "1", why: "ipvsd's sysctls setting")
            ],
            modules: [
                ExplainModule(name: "ip_vs", loaded: true, why: "IPVS itself"),
                ExplainModule(name: "ip_vs_rr", loaded: true, why: "the rr scheduler"),
            ],
            secondsBetweenReads: 1.0
        )
    }

    static func verdicts(_ facts: ExplainFacts, _ check: String) -> [ExplainCheck] {
        ExplainChecks.run(facts).filter { $0.check == check }
    }

    static func only(_ facts: ExplainFacts, _ check: String) throws -> ExplainCheck {
        let found = verdicts(facts, check)
        try #require(found.count == 1, "\(check): \(found)")
        return found[0]
    }

    @Test func healthyServicePassesEveryCheck() {
        let report = ExplainReport(facts: Self.healthy())
        #expect(!report.failed)
        #expect(report.checks.allSatisfy { $0.status == .ok }, "\(report.checks.filter { $0.status != .ok })")
        #expect(
            report.checks.map(\.check) == [
                "service", "cluster-ip", "dns", "endpoints", "health", "kernel", "vip", "sysctl", "module", "module",
                "sync-errors", "traffic",
            ]
        )
    }

    @Test func unknownServiceFailsAndStops() throws {
        let report = ExplainReport(facts: ExplainFacts(target: "production/nope", knownServices: 3))
        #expect(report.failed)
        #expect(report.checks.map(\.check) == ["service"])
        #expect(report.checks[0].message.contains("3 Services loaded"))
        #expect(report.checks[0].fix?.contains("NAMESPACE/NAME") == true)
    }

    @Test func failedManifestLoadWarns() throws {
        var facts = Self.healthy()
        facts.manifestErrors = ["services.yaml:3: spec.ports: bad"]
        let check = try Self.only(facts, "manifests")
        #expect(check.status == .warn)
        #expect(check.message.contains("services.yaml:3"))
    }

    @Test func noEndpointsNamesTheSelector() throws {
        var facts = Self.healthy()
        facts.ports[0].counts = EndpointCounts()
        facts.ports[0].endpoints = []
        let check = try Self.only(facts, "endpoints")
        #expect(check.status == .fail)
        #expect(check.message == "10.96.0.10:80/tcp: no endpoints")
        #expect(check.fix?.contains("the selector matches no running Pod") == true)
        #expect(check.fix?.contains("kubernetes.io/service-name=backend-api") == true)
        #expect(check.fix?.contains("-n production") == true)
        #expect(ExplainReport(facts: facts).failed)
    }

    @Test func noneReadyButTerminatingServingWarns() throws {
        var facts = Self.healthy()
        facts.ports[0].counts = EndpointCounts(total: 2, ready: 0, serving: 2, terminating: 2)
        let check = try Self.only(facts, "endpoints")
        #expect(check.status == .warn)
        #expect(check.message.contains("2 endpoints: 0 ready, 2 serving, 2 terminating"))
    }

    @Test func noneReadyFails() throws {
        var facts = Self.healthy()
        facts.ports[0].counts = EndpointCounts(total: 2, ready: 0, serving: 0, terminating: 0)
        let check = try Self.only(facts, "endpoints")
        #expect(check.status == .fail)
        #expect(check.fix?.contains("readiness") == true)
    }

    @Test func allHealthChecksDownFailsWithTheLastError() throws {
        var facts = Self.healthy()
        for index in facts.ports[0].endpoints.indices {
            facts.ports[0].endpoints[index].health = "down"
            facts.ports[0].endpoints[index].lastProbe = "connection refused"
        }
        let check = try Self.only(facts, "health")
        #expect(check.status == .fail)
        #expect(check.message.contains("10.244.1.5:8080 (connection refused)"))
    }

    @Test func someHealthChecksDownWarns() throws {
        var facts = Self.healthy()
        facts.ports[0].endpoints[1].health = "down"
        facts.ports[0].endpoints[1].lastProbe = "timeout"
        let check = try Self.only(facts, "health")
        #expect(check.status == .warn)
        #expect(check.message.contains("1 of 2"))
        #expect(check.message.contains("10.244.2.5:8080 (timeout)"))
    }

    @Test func missingFromTheKernelFails() throws {
        var facts = Self.healthy()
        facts.ports[0].kernel = nil
        let check = try Self.only(facts, "kernel")
        #expect(check.status == .fail)
        #expect(check.message == "10.96.0.10:80/tcp is not in the kernel")
    }

    @Test func foreignVirtualServerIsAConflict() throws {
        var facts = Self.healthy()
        facts.ports[0].conflict = true
        let check = try Self.only(facts, "kernel")
        #expect(check.status == .fail)
        #expect(check.message.contains("another tool"))
    }

    @Test func kernelDifferencesAreShown() throws {
        var facts = Self.healthy()
        facts.ports[0].kernel = "wlc"
        facts.ports[0].endpoints[0].kernelWeight = nil
        facts.ports[0].endpoints[1].kernelWeight = 0
        facts.ports[0].endpoints.append(
            ExplainEndpoint(address: "10.244.3.5:8080", state: "not-ready", kernelWeight: 1)
        )
        facts.ports[0].kernelOnly = ["10.244.9.9:8080 weight 1"]
        let check = try Self.only(facts, "kernel")
        #expect(check.status == .fail)
        #expect(
            check.message
                == "10.96.0.10:80/tcp differs from desired: scheduler: want rr, kernel wlc; "
                + "10.244.1.5:8080: want weight 1, not in the kernel; 10.244.2.5:8080: want weight 1, kernel weight 0; "
                + "10.244.3.5:8080: not ready but kernel weight 1; 10.244.9.9:8080 weight 1: in the kernel, not desired"
        )
    }

    @Test func drainingAtWeightZeroIsNotADifference() throws {
        var facts = Self.healthy()
        facts.ports[0].endpoints.append(ExplainEndpoint(address: "10.244.3.5:8080", state: "draining", kernelWeight: 0))
        facts.ports[0].endpoints.append(ExplainEndpoint(address: "10.244.4.5:8080", state: "health-failed"))
        #expect(try Self.only(facts, "kernel").status == .ok)
        facts.ports[0].endpoints[2].kernelWeight = 1
        #expect(try Self.only(facts, "kernel").status == .fail)
    }

    @Test func unboundVIPFails() throws {
        var facts = Self.healthy()
        facts.vips[0].bound = false
        let check = try Self.only(facts, "vip")
        #expect(check.status == .fail)
        #expect(check.fix?.contains("ip route add local 10.96.0.10 dev lo table local proto 168") == true)
        facts.vips[0].bound = nil
        #expect(try Self.only(facts, "vip").status == .warn)
    }

    @Test func wrongOrUnreadableSysctlWarns() throws {
        var facts = Self.healthy()
        facts.sysctls[0].actual = "0"
        let wrong = try Self.only(facts, "sysctl")
        #expect(wrong.status == .warn)
        #expect(wrong.message.hasPrefix("net.ipv4.vs.conntrack is 0, want 1"))
        #expect(wrong.fix?.hasPrefix("sysctl -w net.ipv4.vs.conntrack=1") == true)
        facts.sysctls[0].actual = nil
        #expect(try Self.only(facts, "sysctl").status == .warn)
    }

    @Test func missingModuleFails() throws {
        var facts = Self.healthy()
        facts.modules[1].loaded = false
        let check = Self.verdicts(facts, "module")[1]
        #expect(check.status == .fail)
        #expect(check.fix == "modprobe ip_vs_rr")
    }

    @Test func syncErrorsFail() throws {
        var facts = Self.healthy()
        facts.syncErrors = ["add real server 10.244.1.5:8080 to 10.96.0.10:80/tcp: Invalid argument"]
        let check = try Self.only(facts, "sync-errors")
        #expect(check.status == .fail)
        #expect(check.message.contains("Invalid argument"))
    }

    @Test func stillCountersWarnMovingOnesPass() throws {
        var facts = Self.healthy()
        #expect(try Self.only(facts, "traffic").message == "10.96.0.10:80/tcp: 2 new connections, 19 packets in 1 s")
        facts.ports[0].second = facts.ports[0].first
        let still = try Self.only(facts, "traffic")
        #expect(still.status == .warn)
        #expect(still.fix?.contains("curl 10.96.0.10:80") == true)
        facts.ports[0].second?.packetsIn += 3
        #expect(try Self.only(facts, "traffic").message.contains("3 packets on existing connections"))
    }

    @Test func portsBeyondTheCapWarn() throws {
        var facts = Self.healthy()
        facts.portsOmitted = 3
        let check = try Self.only(facts, "ports")
        #expect(check.status == .warn)
        #expect(check.message.hasPrefix("3 more virtual servers not checked"))
    }

    @Test func noClusterIPOrPortsFails() throws {
        var facts = Self.healthy()
        facts.clusterIPs = []
        facts.ports = []
        #expect(try Self.only(facts, "cluster-ip").status == .fail)
        #expect(try Self.only(facts, "ports").status == .fail)
    }

    @Test func headlessExplainsWhyNoVirtualServer() throws {
        let facts = ExplainFacts(
            target: "production/db",
            service: "production/db",
            headless: true,
            headlessAddresses: 2,
            dnsName: "db.production.svc.cluster.local"
        )
        let report = ExplainReport(facts: facts)
        #expect(!report.failed)
        #expect(report.checks.map(\.check) == ["service", "cluster-ip", "endpoints", "dns"])
        #expect(report.checks[1].message.contains("no virtual server by design"))
    }

    @Test func headlessWithoutDNSOrEndpoints() throws {
        let facts = ExplainFacts(target: "production/db", service: "production/db", headless: true)
        #expect(try Self.only(facts, "endpoints").status == .fail)
        let dns = try Self.only(facts, "dns")
        #expect(dns.status == .warn)
        #expect(dns.fix?.contains("dns: {listen:") == true)
    }

    @Test func textIsOneLinePerCheckWithTheFix() {
        var facts = Self.healthy()
        facts.ports[0].counts = EndpointCounts()
        let text = AgentText.explain(ExplainReport(facts: facts))
        let lines = text.split(separator: "\n")
        #expect(lines.first == "explain production/backend-api")
        #expect(
            lines.contains { $0.hasPrefix("FAIL  endpoints    10.96.0.10:80/tcp: no endpoints; fix: the selector") }
        )
        #expect(lines.contains("OK    service      production/backend-api is in the agent's desired state"))
        #expect(lines.last == "12 checks: 1 failed, 0 warnings")
    }

    @Test(arguments: [
        ("production/backend-api", true), ("10.96.0.10:80", true), ("[fd00::a]:80", true), ("backend-api", false),
        ("", false), ("a/b/c", false), ("a b/c", false), ("/x", false), ("ns/na:me", false),
    ])
    func targets(text: String, valid: Bool) {
        #expect((ExplainTarget.problem(text) == nil) == valid)
    }

    @Test func reportJSONRoundTrips() throws {
        let report = ExplainReport(facts: Self.healthy())
        let decoded = try JSONDecoder().decode(ExplainReport.self, from: Data(report.json.utf8))
        #expect(decoded == report)
    }
}

import Foundation
import TestSupport
import Testing

/// Issue 10, items 1 and 2, end to end on the real kernel: under systemd's old default open-file limit
/// (1024, here also the hard limit, so ipvsd cannot raise it), neither a local user holding 1,100
/// half-sent requests to the metrics port nor 1,100 endpoints that never answer a health check can
/// exhaust the agent's descriptors: it stays alive, keeps its rules and still applies manifest edits.
@Suite(.serialized, .enabled(if: AgentKernel.enabled, "needs root and a kernel with IPVS"))
struct AgentDescriptorBudgetTests {
    static let vip = "10.96.77.30"
    static let otherVIP = "10.96.77.31"
    static let attackConnections = 1100

    @Test func halfSentRequestsFromAnUnprivilegedUserCannotExhaustTheAgent() throws {
        let lab = try AgentLab()
        try writeConfig(lab)
        try lab.writeService(clusterIP: Self.vip, backends: [0, 1])
        try startAgentUnderSystemdDefaultLimit(lab)
        #expect(try lab.waitUntil(.seconds(30)) { try lab.rules().count == 3 }, "\(lab.log)")
        let programmed = try lab.rules()

        // uid 65534 opens the connections from the load-balancer namespace, where the agent listens on
        // 127.0.0.1:9750, sends half a request head on each and holds them.
        let progress = lab.directory + "/attack.out"
        let holder = """
            trap '' PIPE; opened=0
            for i in $(seq \(Self.attackConnections)); do
              if exec {fd}<>/dev/tcp/127.0.0.1/9750; then
                printf 'GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n' >&$fd; opened=$((opened + 1))
              fi
            done
            echo "opened $opened"; exec sleep 3600
            """
        try lab.spawn(
            [
                "ip", "netns", "exec", lab.lbNamespace, "prlimit", "--nofile=4096:4096", "setpriv", "--reuid=65534",
                "--regid=65534", "--clear-groups", "bash", "-c", holder,
            ],
            output: progress
        )
        let attacked = lab.waitUntil(.seconds(180)) { Self.read(progress).hasPrefix("opened") }
        #expect(attacked, "the attacker did not finish connecting: \(Self.read(progress))")
        let opened =
            Int(Self.read(progress).split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            ?? 0
        #expect(opened == Self.attackConnections, "attacker opened \(opened)")
        // The attack used to empty the tables within 4 s and crash the agent within 6 s.
        sleep(10)

        let agentDescriptors = try descriptorsOfAgent(lab)
        let healthz = try lab.inLB("curl -s --max-time 10 http://127.0.0.1:9750/healthz || echo failed")
        print("half-sent attack: opened \(opened), agent holds \(agentDescriptors) descriptors, /healthz: \(healthz)")
        #expect(healthz == "ok\n", "/healthz while the attack is held: \(healthz)")
        #expect(agentDescriptors < 1024)
        #expect(try lab.rules() == programmed)
        let status = try lab.ipvsctl("agent", "status", "--socket", lab.socket)
        #expect(status.contains("ipvsd"), "\(status)")

        try lab.writeService(clusterIP: Self.vip, backends: [0])
        #expect(try lab.waitUntil(.seconds(30)) { try lab.rules().count == 2 }, "manifest edit not applied: \(lab.log)")
        #expect(!lab.log.contains("Too many open files"), "\(lab.log)")
        lab.stopAgent()
    }

    @Test func endpointsThatNeverAnswerCannotExhaustTheAgent() throws {
        let lab = try AgentLab()
        try writeConfig(lab)
        // 10.251.0.0/16 leads to a dummy interface: SYNs vanish without an answer, so every connect hangs
        // until the check's timeout, as with hosts that drop packets.
        try lab.inLB("ip link add blk0 type dummy && ip link set blk0 up && ip route add 10.251.0.0/16 dev blk0")
        try lab.writeService(clusterIP: Self.otherVIP, backends: [0, 1], file: "web.yaml")
        try lab.writeManifest("silent.yaml", Self.silentService(endpoints: Self.attackConnections))
        try startAgentUnderSystemdDefaultLimit(lab)
        // The web Service with both its real servers: a first sync adds the services before it waits for the
        // nftables write, and their real servers only after it.
        let programmed = try lab.waitUntil(.seconds(120)) {
            let rules = try lab.rules()
            return rules.filter { $0.contains(Self.otherVIP) }.count == 3
                && rules.contains { $0.contains("-A -t \(Self.vip):80") }
        }
        #expect(programmed, "\(lab.log)")
        let webRules = try lab.rules().filter { $0.contains(Self.otherVIP) }
        // Long enough for several rounds of checks that all time out.
        sleep(20)

        let rules = try lab.rules()
        let agentDescriptors = try descriptorsOfAgent(lab)
        let silentRules = rules.filter { $0.contains(Self.vip) }.count
        print(
            "silent endpoints: \(Self.attackConnections) endpoints, \(silentRules) rules for them, "
                + "agent holds \(agentDescriptors) descriptors"
        )
        #expect(rules.filter { $0.contains(Self.otherVIP) } == webRules, "the other Service must stay programmed")
        #expect(rules.contains { $0.contains("-A -t \(Self.vip):80") }, "the silent Service must not be deleted")
        #expect(agentDescriptors < 1024)
        #expect(lab.log.contains("does not fit the open-file limit"), "the clamp must be logged")
        #expect(!lab.log.contains("Too many open files"), "\(lab.log)")
        // Still applies manifests: the silent Service goes.
        try FileManager.default.removeItem(atPath: lab.directory + "/manifests/silent.yaml")
        let removed = try lab.waitUntil(.seconds(120)) { !(try lab.rules().contains { $0.contains(Self.vip) }) }
        #expect(removed, "removing the silent Service was not applied")

        // The healthy Service stays programmed after the silent one's churn: a starved checker's late timeouts
        // are inconclusive and take no backend out (HealthCheck's CheckerOverloadTests).
        #expect(try lab.rules().filter { $0.contains(Self.otherVIP) } == webRules)
        // Known, not a descriptor problem: the default checks (1 s interval, 1 s timeout) ask for 1,100 probes
        // a second; in the emulated VM (TCG, debug build) on a loaded host that saturates the process's CPU, so
        // /healthz could take over 10 s (2 of 3 runs while other VMs ran; it answered on an idle host).
        withKnownIssue("CPU-saturated by 1,100 failing probes a second in the emulated VM", isIntermittent: true) {
            let healthz = try lab.inLB("curl -s --max-time 10 http://127.0.0.1:9750/healthz || echo failed")
            #expect(healthz == "ok\n", "\(healthz)")
        }
        lab.stopAgent()
    }

    // MARK: Helpers

    /// The lab's config with the metrics listener on and the health defaults untouched.
    func writeConfig(_ lab: AgentLab) throws {
        try """
        manifests: \(lab.directory)/manifests
        stateFile: \(lab.directory)/state.json
        interface: lab0
        metricsAddress: 127.0.0.1:9750
        adminSocket: \(lab.socket)
        resyncPeriod: 5s
        watchInterval: 200ms
        """.write(toFile: lab.configPath, atomically: true, encoding: .utf8)
    }

    /// Starts the agent with RLIMIT_NOFILE 1024:1024, which it inherits and cannot raise: systemd's
    /// default soft limit, without the hard limit's headroom.
    func startAgentUnderSystemdDefaultLimit(_ lab: AgentLab) throws {
        var saved = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved)
        var limit = rlimit(rlim_cur: 1024, rlim_max: 1024)
        #expect(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        defer { setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved) }
        try lab.startAgent()
    }

    /// How many descriptors the ipvsd process in the lab's namespace holds.
    func descriptorsOfAgent(_ lab: AgentLab) throws -> Int {
        let script = """
            for pid in $(ip netns pids \(lab.lbNamespace)); do
              [ "$(basename "$(readlink /proc/$pid/exe)")" = ipvsd ] && ls /proc/$pid/fd | wc -l
            done; true
            """
        let counts = try AgentLab.shell(script).split(separator: "\n").compactMap { Int($0) }
        guard let count = counts.first else { throw LabFailure(description: "no ipvsd running in the lab") }
        return count
    }

    /// A Service at `vip` whose `endpoints` endpoints (two slices, under the per-slice limit) lie behind
    /// the dummy route and never answer.
    static func silentService(endpoints: Int) -> String {
        var text = """
            apiVersion: v1
            kind: Service
            metadata: {name: silent, namespace: lab}
            spec:
              clusterIP: \(vip)
              ports:
              - {name: http, port: 80, targetPort: 8080}

            """
        let half = (endpoints + 1) / 2
        for (slice, range) in [(1, 0..<half), (2, half..<endpoints)] {
            text += """
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: silent-\(slice)
                  namespace: lab
                  labels: {kubernetes.io/service-name: silent}
                addressType: IPv4
                ports:
                - {name: http, protocol: TCP, port: 8080}
                endpoints:

                """
            for index in range {
                text += "- addresses: [10.251.\(index / 250).\(index % 250 + 1)]\n  conditions: {ready: true}\n"
            }
        }
        return text
    }

    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
}

import Foundation
import TestSupport
import Testing

/// The real `ipvsd` under minutes of continuous change with traffic flowing: endpoints churn, a health check
/// flaps (and its server dies and comes back), SIGHUP reloads and full resyncs keep coming. Services that
/// always keep a serving endpoint must lose no request; the agent must neither leak descriptors nor grow,
/// and must end alive with the kernel equal to the manifests.
///
/// `IPVS_SOAK_SECONDS` sets how long the churn lasts (default 180, at least 30).
@Suite(.serialized, .enabled(if: AgentKernel.enabled, "needs root and a kernel with IPVS"))
struct AgentSoakTests {
    static let stableVIP = "10.96.77.30"
    static let churnVIP = "10.96.77.31"
    /// Backends 0 and 1 serve `stable` and never change. `churn` always has the anchor; the churners come
    /// and go, one change a second; the flapper stays in the slice while its health check flaps.
    static let stableBackends = [0, 1]
    static let anchor = 2
    static let churners = [3, 4, 5]
    static let flapper = 6
    /// HTTP checks of a static page; a failed check sets weight 0 instead of deleting, so a request in
    /// flight to the flapper when it goes down still finishes (a deletion would cut it: the agent sets
    /// expire_nodest_conn). Interval and timeout 1 s, fall 3 and rise 2: the flapper leaves within seconds.
    static let churnHealth = [
        "ipvsd.io/health-check": "http", "ipvsd.io/health-path": "/healthz.txt",
        "ipvsd.io/health-failure-action": "weight-zero", "ipvsd.io/health-interval": "1s",
        "ipvsd.io/health-timeout": "1s",
    ]

    static var duration: Int {
        let value = ProcessInfo.processInfo.environment["IPVS_SOAK_SECONDS"].flatMap { Int($0) } ?? 180
        // Three samples at least (one every 10 s), so the first and last thirds are different samples.
        return max(30, value)
    }

    @Test func trafficSurvivesChurnFlapsReloadsAndResyncs() throws {
        let wallStart = ContinuousClock.now
        let lab = try AgentLab(backends: 7)
        try lab.writeSoakConfig()
        for index in [Self.anchor, Self.flapper] + Self.churners { try lab.setHealthPage(index, up: true) }
        var churnSet = Set(Self.churners)
        func churnBackends() -> [Int] { [Self.anchor, Self.flapper] + churnSet.sorted() }
        func writeChurn() throws {
            try lab.writeSoakService(
                "churn",
                vip: Self.churnVIP,
                backends: churnBackends(),
                annotations: Self.churnHealth
            )
        }
        func expected() -> [String] {
            lab.expectedRules([(Self.stableVIP, Self.stableBackends), (Self.churnVIP, churnBackends())])
        }
        func context() -> String {
            "rules:\n\(((try? lab.rules()) ?? []).joined(separator: "\n"))\n--- agent log (tail):\n\(lab.logTail())"
        }
        try lab.writeSoakService("stable", vip: Self.stableVIP, backends: Self.stableBackends)
        try writeChurn()
        try lab.startAgent()
        let programmed = try lab.waitUntil(.seconds(30)) { try lab.rules() == expected() }
        try #require(programmed, "ipvsd did not program the two services\n\(context())")
        let pid = try #require(lab.agentPID(), "no ipvsd process found\n\(context())")

        try TrafficGenerator.boundConnects(in: lab)
        let stableTraffic = try TrafficGenerator(service: "stable", vip: Self.stableVIP, lab: lab)
        let churnTraffic = try TrafficGenerator(service: "churn", vip: Self.churnVIP, lab: lab)
        var plan = SoakPlan(lab: lab, pid: pid)
        let start = ContinuousClock.now
        // Time-based: a tick that overruns (a rules read, an httpd restart in the slow VM) shortens the pause.
        var tick = 0
        var nextSample = 0
        while case let elapsed = Int((ContinuousClock.now - start).components.seconds), elapsed < Self.duration {
            guard kill(pid, 0) == 0 else { break }
            if elapsed >= nextSample {
                plan.sample(at: elapsed)
                nextSample = (elapsed / 10 + 1) * 10
            }
            // One endpoint change a second: the next churner leaves or comes back, never the last one out, so
            // the slice always holds the anchor, the flapper and at least one churner.
            let count = Self.churners.count
            let churner = (0..<count).map { Self.churners[(tick + $0) % count] }.first {
                !churnSet.contains($0) || churnSet.count > 1
            }!
            if churnSet.remove(churner) == nil { churnSet.insert(churner) }
            try writeChurn()
            plan.note("churn slice: backends \(churnBackends())")
            plan.churnEvents += 1
            if tick % 7 == 3 { plan.reload() }
            if tick % 11 == 5 { plan.resync(reload: tick % 22 == 5) }
            try plan.flap(Self.flapper, now: elapsed)
            tick += 1
            let remaining = start + .seconds(tick) - ContinuousClock.now
            if remaining > .zero {
                let (seconds, attoseconds) = remaining.components
                Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
            }
        }
        let loopEnd = ContinuousClock.now
        let agentAlive = kill(pid, 0) == 0
        try #require(agentAlive, "ipvsd died during the soak\n\(context())")

        // The end state: one churner in, the flapper healthy and serving; traffic keeps flowing meanwhile.
        churnSet = [Self.churners[0]]
        try writeChurn()
        try plan.endFlap(Self.flapper)
        let converged = try lab.waitUntil(.seconds(60)) { try lab.rules() == expected() }
        let convergeEnd = ContinuousClock.now
        plan.sample(at: Int((convergeEnd - start).components.seconds))
        stableTraffic.stop()
        churnTraffic.stop()
        let names = { (indices: [Int]) in Set(indices.map { lab.backends[$0].name }) }
        let stable = stableTraffic.outcome(servedBy: names(Self.stableBackends))
        let churn = churnTraffic.outcome(servedBy: names([Self.anchor, Self.flapper] + Self.churners))
        let statusText = (try? lab.ipvsctl("agent", "status", "--socket", lab.socket, "--json")) ?? ""
        let status = (try? JSONSerialization.jsonObject(with: Data(statusText.utf8))) as? [String: Any] ?? [:]

        // Leak detectors, not timing: a descriptor leaked per probe (6 targets, one check a second or two),
        // per sync or per admin request would add hundreds in two minutes; in-flight probe and admin
        // connections and netlink sockets account for a handful, so +16 is noise. Resident memory moves with
        // malloc arenas and caches by a few MiB on a process of tens; 20% over the first third's peak (which
        // has already seen every kind of event: churn, drains, flaps, reloads, resyncs) is growth, not noise.
        let descriptors = FlatnessCheck("fds", plan.samples.map(\.descriptors)) { _ in 16 }
        let memory = FlatnessCheck("RSS KiB", plan.samples.map(\.rssKiB)) { $0 / 5 }
        func spread(_ outcome: TrafficGenerator.Outcome) -> String {
            lab.backends.indices.compactMap { index in
                outcome.answeredBy[lab.backends[index].name].map { "backend \(index): \($0)" }
            }.joined(separator: ", ")
        }
        let log = lab.log
        let wall = (ContinuousClock.now - wallStart).components.seconds
        let phases = [wallStart, start, loopEnd, convergeEnd].adjacentSeconds
        print(
            """
            soak summary: \(Self.duration) s of churn, wall \(wall) s (setup \(phases[0]) s, churn loop \(phases[1]) s, \
            converging \(phases[2]) s); \
            stable ok \(stable.ok) failed \(stable.failures.count); \
            churn ok \(churn.ok) failed \(churn.failures.count) (answered by \(spread(churn))); \
            \(plan.churnEvents) endpoint changes, \(plan.healthDowns) health downs, \
            \(plan.reloads) SIGHUP, \(plan.resyncs) admin syncs; \
            \(descriptors.summary); \(memory.summary); \(plan.samples.count) samples; \
            agent log: \(log.split(separator: "\n").count { $0.contains("level=warning") }) warnings, \
            \(log.split(separator: "\n").count { $0.contains("level=error") }) errors
            soak samples (s fds RSS-KiB): \(plan.samples.map { "\($0.seconds) \($0.descriptors) \($0.rssKiB)" }.joined(separator: ", "))
            """
        )

        #expect(
            converged,
            "final rules differ from the final manifests; expected:\n\(expected().joined(separator: "\n"))\n\(context())"
        )
        #expect(
            kill(pid, 0) == 0 && status["ready"] as? Bool == true,
            "agent not alive and ready at the end: \(statusText)\n\(context())"
        )
        #expect((status["manifestErrors"] as? [Any])?.isEmpty == true, "\(statusText)")
        #expect((status["conflicts"] as? [Any])?.isEmpty == true, "\(statusText)")
        #expect(
            stable.failures.isEmpty,
            "stable failures:\n\(stable.failures.prefix(20).joined(separator: "\n"))\n\(stableTraffic.errors.suffix(2000))\n\(plan.context(of: stable.failures, log: log))\n\(context())"
        )
        #expect(
            churn.failures.isEmpty,
            "churn failures:\n\(churn.failures.prefix(20).joined(separator: "\n"))\n\(churnTraffic.errors.suffix(2000))\n\(plan.context(of: churn.failures, log: log))\n\(context())"
        )
        // Nothing in this soak is a fault of the agent's: no sync may fail, no kernel call, no manifest.
        let errors = log.split(separator: "\n").filter { $0.contains("level=error") }
        #expect(errors.isEmpty, "the agent logged errors:\n\(errors.prefix(20).joined(separator: "\n"))")
        #expect(plan.adminFailures.isEmpty, "admin requests failed:\n\(plan.adminFailures.joined(separator: "\n"))")
        #expect(descriptors.flat, "ipvsd descriptors grew: \(descriptors.summary); samples \(plan.samples)")
        #expect(memory.flat, "ipvsd memory grew: \(memory.summary); samples \(plan.samples)")
        // The soak did what it says: traffic flowed to both services, churners and the flapper served, and
        // the flapper really went out (weight 0) and came back.
        #expect(stable.ok > 0 && churn.ok > 0)
        #expect(churn.answeredBy.keys.contains(lab.backends[Self.churners[0]].name), "\(churn.answeredBy)")
        #expect(churn.answeredBy.keys.contains(lab.backends[Self.flapper].name), "\(churn.answeredBy)")
        #expect(plan.healthDowns > 0, "the flapper never went to weight 0\n\(context())")
        lab.stopAgent()
    }
}

/// The soak's disturbances other than the endpoint churn, and what they observed.
struct SoakPlan {
    let lab: AgentLab
    let pid: pid_t
    var samples: [ResourceSample] = []
    var churnEvents = 0
    var reloads = 0
    var resyncs = 0
    var adminFailures: [String] = []
    var healthDowns = 0
    /// What the soak did when, for failure messages: `EPOCH what`.
    var journal: [String] = []
    private var flap = Flap.up(since: 0)

    /// The flapper's health: up for 10 s, then its page goes away until the agent has set it to weight 0 and
    /// 6 s more. Its httpd keeps serving `/`: killing it while out would race the all-down policy (keep-all),
    /// which rightly serves every endpoint when the emulated VM stalls and all checks time out at once, and
    /// the requests it then gets would fail through no fault of the agent's.
    private enum Flap {
        case up(since: Int)
        case down(since: Int, outSince: Int?)
    }

    init(lab: AgentLab, pid: pid_t) {
        self.lab = lab
        self.pid = pid
    }

    mutating func note(_ what: String) {
        journal.append("\(String(format: "%.3f", Date().timeIntervalSince1970)) \(what)")
    }

    /// The journal entries and agent log lines from 5 s before to 1 s after each failed request (its first
    /// field is its start in epoch seconds), to tell what the agent and the soak did around it.
    func context(of failures: [String], log: String) -> String {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let logLines = log.split(separator: "\n").map { line -> (Double, Substring) in
            let stamp = line.split(separator: " ").first { $0.hasPrefix("ts=") }?.dropFirst(3)
            return (stamp.flatMap { format.date(from: String($0)) }?.timeIntervalSince1970 ?? 0, line)
        }
        let entries = journal.map { (Double($0.prefix { $0 != " " }) ?? 0, Substring($0)) }
        return failures.prefix(5).map { failure in
            let at = Double(failure.prefix { $0 != " " }) ?? 0
            let near = (entries.map { ($0.0, "soak: \($0.1)") } + logLines.map { ($0.0, "agent: \($0.1)") })
                .filter { $0.0 >= at - 5 && $0.0 <= at + 1 }.sorted { $0.0 < $1.0 }.map(\.1)
            return "around \(failure):\n" + near.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    mutating func sample(at seconds: Int) {
        if let sample = ResourceSample.take(of: pid, at: seconds) { samples.append(sample) }
    }

    mutating func reload() {
        kill(pid, SIGHUP)
        reloads += 1
        note("SIGHUP")
    }

    /// `ipvsctl agent sync` (reload and full resync) or with `--no-reload` (POST /v1/resync).
    mutating func resync(reload: Bool) {
        var arguments = [ChildProcess.builtProduct("ipvsctl"), "agent", "sync", "--socket", lab.socket]
        if !reload { arguments.append("--no-reload") }
        note("ipvsctl \(arguments.dropFirst().joined(separator: " "))")
        do {
            try AgentLab.run(arguments)
        } catch {
            adminFailures.append("\(error)")
        }
        resyncs += 1
    }

    /// One second of the flap cycle for backend `index`.
    mutating func flap(_ index: Int, now: Int) throws {
        switch flap {
        case .up(let since):
            if now - since >= 10 {
                try lab.setHealthPage(index, up: false)
                note("flapper health page removed")
                flap = .down(since: now, outSince: nil)
            }
        case .down(let since, var outSince):
            let address = lab.backends[index].address
            if outSince == nil, try lab.rules().contains(where: { $0.contains("\(address):8080 -m -w 0") }) {
                outSince = now
                healthDowns += 1
                note("flapper seen at weight 0")
            }
            // Back up 6 s after it went out, or after 30 s if the agent never took it out (reported below).
            if outSince.map({ now - $0 >= 6 }) ?? (now - since >= 30) {
                try lab.setHealthPage(index, up: true)
                note("flapper health page back")
                flap = .up(since: now)
            } else {
                flap = .down(since: since, outSince: outSince)
            }
        }
    }

    /// Leaves the flapper healthy and serving.
    mutating func endFlap(_ index: Int) throws {
        try lab.setHealthPage(index, up: true)
        flap = .up(since: 0)
    }
}

extension [ContinuousClock.Instant] {
    /// Whole seconds between each instant and the next.
    fileprivate var adjacentSeconds: [Int64] { zip(self, dropFirst()).map { ($1 - $0).components.seconds } }
}

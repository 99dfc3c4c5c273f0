import HealthCheck
import IPVS
import Logging
import ServiceTables
import Testing

@Suite("Monitor with a manual clock and a scripted prober")
struct HealthMonitorTests {
    /// A running monitor the test drives one deadline at a time.
    final class Harness: Sendable {
        let clock = ManualHealthClock()
        let prober: FakeProber
        let monitor: HealthMonitor
        let task: Task<Void, Never>

        init(maxConcurrentChecks: Int = 1024) {
            prober = FakeProber(clock: clock)
            let monitor = HealthMonitor(
                prober: prober,
                clock: clock,
                maxConcurrentChecks: maxConcurrentChecks,
                logger: Logger(label: "test.health")
            )
            self.monitor = monitor
            task = Task { await monitor.run() }
        }

        /// Waits until the monitor sleeps (idle, unless checks are held), moves time to its deadline, and
        /// waits until the monitor has handled it and sleeps again.
        @discardableResult
        func step(idle: Bool = true) async throws -> Duration {
            // One snapshot: the monitor may wake (setTargets) between two reads of the clock.
            var next: Duration?
            let asleep = await eventually {
                next = clock.sleepingDeadlines.first
                return next != nil && (!idle || (monitor.checksInFlight == 0 && monitor.checksQueued == 0))
            }
            try #require(asleep, "the monitor never went back to sleep")
            let deadline = try #require(next)
            clock.advance(to: deadline)
            let handled = await eventually { (clock.sleepingDeadlines.first ?? .zero) > deadline }
            try #require(handled, "the monitor did not handle the deadline \(deadline)")
            return deadline
        }

        func waitForCalls(_ count: Int) async throws {
            let reached = await eventually { prober.calls.count >= count }
            try #require(reached, "expected \(count) probe calls, saw \(prober.calls.count)")
        }

        func stop() async {
            task.cancel()
            await task.value
        }
    }

    static func checked(port: UInt16 = 80, interval: Duration = .seconds(1), jitter: Double = 0) -> HealthTarget {
        var checked = target(.tcp, "10.0.0.1", port)
        checked.interval = interval
        checked.jitter = jitter
        checked.rise = 2
        checked.fall = 3
        return checked
    }

    @Test func transitionsAreEmittedAndStatusKept() async throws {
        let harness = Harness()
        let checked = Self.checked()
        let refused = ProbeResult.failure("connection refused")
        harness.prober.script(checked, [.ok(), refused, refused, refused, .ok(), .ok()])
        harness.monitor.setTargets([checked])
        for round in 1...6 {
            try await harness.step()
            try await harness.waitForCalls(round)
        }
        #expect(await eventually { harness.monitor.checksInFlight == 0 })
        var transitions = harness.monitor.transitions.makeAsyncIterator()
        var seen: [HealthTransition] = []
        for _ in 0..<3 { if let next = await transitions.next() { seen.append(next) } }
        #expect(seen.map(\.from) == [.unknown, .up, .down])
        #expect(seen.map(\.to) == [.up, .down, .up])
        #expect(seen.map(\.reason) == ["ok", "connection refused", "ok"])
        #expect(seen.allSatisfy { $0.target == checked })
        let status = harness.monitor.status(of: checked)
        #expect(status.state == .up)
        #expect(status.consecutive == 2)
        #expect(status.since == seen[2].at)
        #expect(seen[2].status == status)
        #expect(seen[1].status.state == .down)
        await harness.stop()
    }

    @Test func intervalAndJitterAreRespected() async throws {
        let harness = Harness()
        harness.monitor.setTargets([Self.checked(interval: .seconds(2), jitter: 0.2)])
        for round in 1...40 {
            try await harness.step()
            try await harness.waitForCalls(round)
        }
        let times = harness.prober.calls.map(\.at)
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        #expect(gaps.allSatisfy { $0 >= .milliseconds(1600) && $0 <= .milliseconds(2400) })
        await harness.stop()
    }

    @Test func slowChecksSkipSlotsWithoutDrift() async throws {
        let harness = Harness()
        harness.monitor.setTargets([Self.checked(interval: .seconds(1))])
        harness.prober.hold()
        let first = try await harness.step()
        try await harness.waitForCalls(1)
        // Three more slots pass while the first check is still running: none starts.
        for k in 1...3 {
            #expect(try await harness.step(idle: false) == first + .seconds(k))
        }
        #expect(harness.prober.calls.count == 1)
        #expect(harness.prober.maxInFlight == 1)
        harness.prober.release()
        // The next check runs on the original grid, not "release time + interval".
        #expect(try await harness.step() == first + .seconds(4))
        try await harness.waitForCalls(2)
        #expect(harness.prober.calls.map(\.at) == [first, first + .seconds(4)])
        await harness.stop()
    }

    @Test func concurrencyIsBounded() async throws {
        let harness = Harness(maxConcurrentChecks: 4)
        let targets = Set((1...20).map { Self.checked(port: UInt16($0), interval: .seconds(60)) })
        harness.monitor.setTargets(targets)
        harness.prober.hold()
        harness.clock.advance(to: .seconds(60) - .milliseconds(1))
        #expect(await eventually { harness.prober.inFlight == 4 && harness.monitor.checksQueued == 16 })
        #expect(harness.prober.calls.count == 4)
        harness.prober.release()
        try await harness.waitForCalls(20)
        #expect(harness.prober.maxInFlight == 4)
        #expect(Set(harness.prober.calls.map(\.target)) == targets)
        await harness.stop()
    }

    @Test func sharedBackendIsProbedOnceAndKeepsItsState() async throws {
        let harness = Harness()
        let spec = HealthCheckSpec(interval: .seconds(1), jitter: 0)
        let backend = RealServer.ID(address: IPAddress("10.1.0.5")!, port: 8080)
        // The same backend and check, reached from two virtual servers: one target.
        let fromWeb = HealthTarget(realServer: backend, spec: spec)
        let fromAPI = HealthTarget(realServer: backend, spec: spec)
        harness.monitor.setTargets([fromWeb, fromAPI])
        #expect(harness.monitor.statuses().count == 1)
        for round in 1...3 {
            try await harness.step()
            try await harness.waitForCalls(round)
        }
        #expect(await eventually { harness.monitor.status(of: fromWeb).consecutive == 3 })
        // Setting the targets again (plus a new one) keeps the existing state.
        let other = HealthTarget(realServer: RealServer.ID(address: IPAddress("10.1.0.6")!, port: 8080), spec: spec)
        harness.monitor.setTargets([fromAPI, other])
        #expect(harness.monitor.status(of: fromWeb).consecutive == 3)
        #expect(harness.monitor.status(of: other) == HealthStatus(since: harness.clock.now))
        await harness.stop()
    }

    @Test func removedTargetsAreNoLongerProbed() async throws {
        let harness = Harness()
        let kept = Self.checked(port: 1)
        let removed = Self.checked(port: 2)
        harness.monitor.setTargets([kept, removed])
        try await harness.step()
        try await harness.step()
        try await harness.waitForCalls(2)
        harness.monitor.setTargets([kept])
        #expect(harness.monitor.statuses().keys.sorted { $0.port < $1.port } == [kept])
        let before = harness.prober.calls.count
        // The first step may still hit the removed target's stale timer: at most one step without a call.
        for _ in 1...6 { try await harness.step() }
        #expect(await eventually { harness.monitor.checksInFlight == 0 })
        #expect(harness.prober.calls.count - before >= 5)
        #expect(harness.prober.calls.dropFirst(before).allSatisfy { $0.target == kept })
        await harness.stop()
    }

    @Test func cancellationEndsRun() async throws {
        let harness = Harness()
        harness.monitor.setTargets([Self.checked()])
        try await harness.step()
        try await harness.waitForCalls(1)
        await harness.stop()
        #expect(harness.task.isCancelled)
    }
}

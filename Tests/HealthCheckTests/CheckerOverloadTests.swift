import HealthCheck
import NIOCore
import NIOPosix
import ServiceTables
import Testing

/// A starved checker proves nothing about its targets (issue 10: a Service with 1,100 silent endpoints made
/// the agent's own checks of healthy backends time out, and those backends went out of service).
@Suite("An overloaded checker")
struct CheckerOverloadTests {
    /// Late timeouts are shown, but change neither the state nor the streak.
    @Test func anInconclusiveResultChangesNothing() {
        var checked = target(.tcp, "10.0.0.1", 80)
        checked.fall = 1
        var tracker = HealthTracker(target: checked, since: .zero)
        _ = tracker.record(.ok(), at: .seconds(1))
        let before = tracker.status
        for second in 2...6 {
            #expect(tracker.record(.inconclusive("inconclusive: checker overloaded"), at: .seconds(second)) == nil)
        }
        #expect(tracker.status.state == .up)
        #expect(tracker.status.consecutive == before.consecutive)
        #expect(tracker.status.lastResult == "inconclusive: checker overloaded")
        // A real failure still counts at once (fall 1).
        #expect(tracker.record(.failure("connection refused"), at: .seconds(7))?.to == .down)
    }

    /// The probe's event loop is blocked past the timeout: the timeout fires seconds late and the result is
    /// inconclusive, not "timeout".
    @Test func aTimeoutThatFiresLateIsInconclusive() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let prober = NIOProber(group: group)
        let server = try await TestServer.http(respond: false)
        // The premise: the loop is blocked before the probe's timeout is due. A loaded test host can delay the
        // block past it (then the result is an ordinary timeout and proves nothing here): try again.
        var result: ProbeResult?
        for _ in 0..<5 where result == nil {
            let started = ContinuousClock.now
            async let probed = prober.probe(
                target(.http(.init()), "127.0.0.1", server.port, timeout: .milliseconds(200))
            )
            try await Task.sleep(for: .milliseconds(100))
            // What thousands of probes or a starved host do to the loop, in one blocking task.
            let blockedAt = try await group.next().submit {
                let now = ContinuousClock.now
                usleep(2_500_000)
                return now
            }.get()
            let outcome = await probed
            if started.duration(to: blockedAt) < .milliseconds(200) { result = outcome }
        }
        try await server.close()
        try await group.shutdownGracefully()
        let late = try #require(result, "the loop was never blocked before the timeout was due")
        #expect(!late.conclusive, "\(late)")
        #expect(late.reason.hasPrefix("inconclusive: checker overloaded"), "\(late.reason)")
    }

    /// On a loop that is not starved a silent server is a plain timeout, which counts.
    @Test func anOrdinaryTimeoutCounts() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await TestServer.http(respond: false)
        let result = await NIOProber(group: group).probe(
            target(.http(.init()), "127.0.0.1", server.port, timeout: .milliseconds(200))
        )
        try await server.close()
        try await group.shutdownGracefully()
        #expect(result.conclusive)
        #expect(result.reason == "timeout")
    }
}

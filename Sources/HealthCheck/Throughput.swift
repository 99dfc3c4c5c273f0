import NIOCore
import ServiceTables
import Synchronization

extension HealthMonitor {
    /// Probes `targets` back to back (no interval) for `duration`, `concurrency` checks in flight, for the
    /// benchmark harness: checks per second is `checks / duration`.
    ///
    /// Checks start the way the monitor starts them: each finished check starts the next, with no task per
    /// check where the prober allows (TCP), so the figure is the production path's.
    /// - Parameters:
    ///   - concurrency: checks in flight at once.
    ///   - tcpCheckerThread: false measures TCP checks through SwiftNIO's `ClientBootstrap` instead, each in a task
    ///     of its own, as the monitor ran them before the checker thread.
    @_spi(Benchmarks) public static func measureThroughput(
        targets: [HealthTarget],
        duration: Duration,
        group: any EventLoopGroup,
        concurrency: Int = 256,
        tcpCheckerThread: Bool = true
    ) async -> (checks: Int, failures: Int) {
        guard !targets.isEmpty else { return (0, 0) }
        let driver = ThroughputDriver(
            prober: NIOProber(group: group, tcpCheckerThread: tcpCheckerThread),
            targets: targets,
            end: .now.advanced(by: duration),
            chains: max(1, concurrency)
        )
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            driver.done.withLock { $0 = done }
            for _ in 0..<max(1, concurrency) { driver.step() }
        }
        return (driver.checks.load(ordering: .acquiring), driver.failures.load(ordering: .acquiring))
    }
}

/// `concurrency` chains of checks, each starting its next check when one finishes, until the end time.
private final class ThroughputDriver: Sendable {
    let prober: NIOProber
    let targets: [HealthTarget]
    let end: ContinuousClock.Instant
    let next = Atomic<Int>(0)
    let checks = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    let chains: Atomic<Int>
    let done = Mutex<CheckedContinuation<Void, Never>?>(nil)

    init(prober: NIOProber, targets: [HealthTarget], end: ContinuousClock.Instant, chains: Int) {
        self.prober = prober
        self.targets = targets
        self.end = end
        self.chains = Atomic(chains)
    }

    func step() {
        guard ContinuousClock.now < end else {
            if chains.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                done.withLock { waiter in
                    defer { waiter = nil }
                    return waiter
                }?.resume()
            }
            return
        }
        let target = targets[next.add(1, ordering: .relaxed).oldValue % targets.count]
        let started = prober.start(target) { self.record($0) }
        if !started {
            Task { self.record(await self.prober.probe(target)) }
        }
    }

    private func record(_ result: ProbeResult) {
        checks.add(1, ordering: .relaxed)
        if !result.success { failures.add(1, ordering: .relaxed) }
        step()
    }
}

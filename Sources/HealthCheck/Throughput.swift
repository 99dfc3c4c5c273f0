import LoadBalancer
import NIOCore
import Synchronization

extension HealthMonitor {
    /// Probes `targets` back to back (no interval) for `duration` with bounded concurrency, for the
    /// benchmark harness: checks per second is `checks / duration`.
    /// - Parameter concurrency: checks in flight at once.
    public static func measureThroughput(
        targets: [HealthTarget],
        duration: Duration,
        group: any EventLoopGroup,
        concurrency: Int = 256
    ) async -> (checks: Int, failures: Int) {
        guard !targets.isEmpty else { return (0, 0) }
        let prober = NIOProber(group: group)
        let end = ContinuousClock.now.advanced(by: duration)
        let next = AtomicCounter()
        return await withTaskGroup(of: (Int, Int).self) { workers in
            for _ in 0..<max(1, concurrency) {
                workers.addTask {
                    var checks = 0
                    var failures = 0
                    while ContinuousClock.now < end, !Task.isCancelled {
                        let index = next.count.add(1, ordering: .relaxed).oldValue % targets.count
                        let result = await prober.probe(targets[index])
                        checks += 1
                        if !result.success { failures += 1 }
                    }
                    return (checks, failures)
                }
            }
            var total = (checks: 0, failures: 0)
            for await (checks, failures) in workers {
                total.checks += checks
                total.failures += failures
            }
            return total
        }
    }
}

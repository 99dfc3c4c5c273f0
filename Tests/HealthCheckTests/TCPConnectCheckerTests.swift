import Foundation
import HealthCheck
import Logging
import NIOPosix
import ServiceTables
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// TCP checks started without a task (`NIOProber.start`), as the monitor starts them: they run on the checker's
/// own epoll thread and complete through a callback.
@Suite("TCP connect checker")
struct TCPConnectCheckerTests {
    let prober = NIOProber(group: MultiThreadedEventLoopGroup.singleton)

    /// Starts a check and waits for its one completion.
    func check(_ target: HealthTarget, onCompletion: @escaping @Sendable () -> Void = {}) async -> ProbeResult {
        await Self.check(prober, target, onCompletion: onCompletion)
    }

    static func check(
        _ prober: NIOProber,
        _ target: HealthTarget,
        onCompletion: @escaping @Sendable () -> Void = {}
    ) async -> ProbeResult {
        await withCheckedContinuation { continuation in
            let started = prober.start(target) { result in
                onCompletion()
                continuation.resume(returning: result)
            }
            if !started { continuation.resume(returning: .failure("not started without a task")) }
        }
    }

    @Test(arguments: ["127.0.0.1", "::1"])
    func connectsAndRefusals(host: String) async throws {
        let server = try await TestServer.http(host: host, respond: false)
        let closed = try ClosedPort(host: host)
        let up = await check(target(.tcp, host, server.port))
        let refused = await check(target(.tcp, host, closed.port))
        try await server.close()
        withExtendedLifetime(closed) {}
        #expect(up.success && up.reason == "ok", "\(up)")
        #expect(!refused.success && refused.reason == "connection refused" && refused.conclusive, "\(refused)")
    }

    /// A listener whose accept queue is full drops new handshakes: the check times out, and counts.
    @Test func aSilentTargetTimesOut() async throws {
        let listener = try FullListener()
        let result = await check(target(.tcp, "127.0.0.1", listener.port, timeout: .milliseconds(300)))
        #expect(!result.success)
        #expect(result.reason == "timeout")
        #expect(result.conclusive)
        #expect(result.latency >= .milliseconds(300))
        withExtendedLifetime(listener) {}
    }

    /// The checker's thread is held past a check's deadline (a completion that blocks stands in for a starved
    /// process): that timeout proves nothing and must be inconclusive, never a failure.
    @Test func aTimeoutProcessedFarTooLateIsInconclusive() async throws {
        let listener = try FullListener()
        let server = try await TestServer.http(respond: false)
        // The premise: the thread is blocked before the silent check's deadline. A loaded test host can delay
        // the block past it (then the result is an ordinary timeout and proves nothing here): try again.
        var result: ProbeResult?
        for _ in 0..<5 where result == nil {
            let started = ContinuousClock.now
            async let silent = check(target(.tcp, "127.0.0.1", listener.port, timeout: .milliseconds(300)))
            try await Task.sleep(for: .milliseconds(50))
            let blockedAt = Instants()
            _ = await check(target(.tcp, "127.0.0.1", server.port)) {
                blockedAt.value.withLock { $0 = .now }
                usleep(2_500_000)
            }
            let outcome = await silent
            // In flight across the block (else it started after it, and its plain timeout is right), and the
            // block began before its deadline.
            if let blocked = blockedAt.value.withLock({ $0 }), started.duration(to: blocked) < .milliseconds(300),
                outcome.latency > .seconds(1)
            {
                result = outcome
            }
        }
        try await server.close()
        withExtendedLifetime(listener) {}
        let late = try #require(result, "the checker was never blocked before the deadline")
        #expect(!late.conclusive, "\(late)")
        #expect(late.reason.hasPrefix("inconclusive: checker overloaded"), "\(late.reason)")
    }

    /// Many checks at once, to live and dead ports: each completes exactly once with the right answer.
    @Test func everyCheckCompletesOnce() async throws {
        let server = try await TestServer.http(respond: false)
        let closed = try ClosedPort()
        let tally = Tally()
        let (live, dead) = (server.port, closed.port)
        let count = 600
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask { [prober] in
                    let alive = index % 3 != 0
                    // A generous timeout: on a loaded host 400 connects at once can wait on the test server's
                    // accept loop, and a timeout there says nothing about completing once with the right answer.
                    let checked = target(.tcp, "127.0.0.1", alive ? live : dead, timeout: .seconds(30))
                    let result = await Self.check(prober, checked) {
                        tally.completions.withLock { $0[index, default: 0] += 1 }
                    }
                    if result.success != alive { tally.failures.add(1, ordering: .relaxed) }
                }
            }
        }
        try await server.close()
        withExtendedLifetime(closed) {}
        let counted = tally.completions.withLock { $0 }
        #expect(counted.count == count)
        #expect(counted.values.allSatisfy { $0 == 1 })
        #expect(tally.failures.load(ordering: .relaxed) == 0)
    }

    /// The monitor starts TCP checks on the checker without a task each, and their results drive transitions.
    @Test func theMonitorRunsTCPChecksWithoutATaskEach() async throws {
        let server = try await TestServer.http(respond: false)
        let closed = try ClosedPort()
        let monitor = HealthMonitor(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "test")
        )
        var live = target(.tcp, "127.0.0.1", server.port)
        var dead = target(.tcp, "127.0.0.1", closed.port)
        for index in [0, 1] {
            var checked = index == 0 ? live : dead
            checked.interval = .milliseconds(100)
            checked.rise = 1
            checked.fall = 1
            if index == 0 { live = checked } else { dead = checked }
        }
        let run = Task { await monitor.run() }
        monitor.setTargets([live, dead])
        let settled = await eventually {
            monitor.status(of: live).state == .up && monitor.status(of: dead).state == .down
        }
        run.cancel()
        await run.value
        try await server.close()
        withExtendedLifetime(closed) {}
        #expect(settled, "live: \(monitor.status(of: live)), dead: \(monitor.status(of: dead))")
        var transitions = monitor.transitions.makeAsyncIterator()
        let first = await transitions.next()
        let second = await transitions.next()
        let reasons = Set([first, second].compactMap { $0.map { "\($0.target.port) \($0.to) \($0.reason)" } })
        #expect(reasons == ["\(live.port) up ok", "\(dead.port) down connection refused"])
    }

    final class Instants: Sendable {
        let value = Mutex<ContinuousClock.Instant?>(nil)
    }

    final class Tally: Sendable {
        let completions = Mutex<[Int: Int]>([:])
        let failures = Atomic<Int>(0)
    }
}

/// A TCP listener on 127.0.0.1 that never accepts, its accept queue filled: the kernel drops further SYNs,
/// so a connect to it hangs until the client gives up.
final class FullListener {
    let descriptor: CInt
    let port: UInt16
    private var fillers: [CInt] = []

    init() throws {
        let descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0, listen(descriptor, 0) == 0 else {
            close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        let fixedLength = length
        // A backlog of 0 queues one connection; a few more make sure the queue is full before the test's check.
        for _ in 0..<3 {
            let filler = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, fixedLength) }
            }
            fillers.append(filler)
        }
        usleep(100_000)
    }

    deinit {
        for filler in fillers { close(filler) }
        close(descriptor)
    }
}

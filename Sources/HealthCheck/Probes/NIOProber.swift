import IPVS
import NIOCore
import NIOPosix
import ServiceTables

/// Probes real sockets: TCP connects on the checker's own epoll thread (`TCPConnectChecker`), the other
/// socket kinds on SwiftNIO's event loops (no thread per check); commands run as child processes.
public struct NIOProber: Prober {
    let group: any EventLoopGroup
    /// Nil when it could not be set up (no descriptors at start): TCP checks then go through SwiftNIO.
    let tcpChecker: TCPConnectChecker?

    public init(group: any EventLoopGroup) {
        self.init(group: group, tcpCheckerThread: true)
    }

    /// For the benchmark's same-run comparison: without the checker thread, TCP checks go through SwiftNIO's
    /// `ClientBootstrap`, a channel per check.
    @_spi(Benchmarks) public init(group: any EventLoopGroup, tcpCheckerThread: Bool) {
        self.group = group
        self.tcpChecker = tcpCheckerThread ? TCPConnectChecker() : nil
    }

    /// Starts a check that completes through `completion`, with no task of its own, when the kind allows
    /// (TCP); returns false when the caller must `await probe(target)` instead.
    public func start(_ target: HealthTarget, completion: @escaping @Sendable (ProbeResult) -> Void) -> Bool {
        guard case .tcp = target.kind, let tcpChecker else { return false }
        tcpChecker.check(
            SocketAddressStorage(target.address, port: target.port),
            timeout: target.timeout,
            completion: completion
        )
        return true
    }

    public func probe(_ target: HealthTarget) async -> ProbeResult {
        switch target.kind {
        case .tcp where tcpChecker != nil:
            await withCheckedContinuation { continuation in
                // Always started: a TCP target, and the checker is there.
                _ = start(target) { continuation.resume(returning: $0) }
            }
        case .tcp: await probeTCP(target)
        case .http(let http): await probeHTTP(target, http, tls: false)
        case .https(let http): await probeHTTP(target, http, tls: true)
        case .udp(let payload, let expect): await probeUDP(target, payload: payload, expect: expect)
        case .command(let argv): await CommandProbe.run(argv: argv, target: target)
        case .grpc(let service): await probeGRPC(target, service: service)
        }
    }

    /// Runs one socket probe: `start` completes the promise with a reason (`ok` or why not), and the
    /// target's timeout completes it with `timeoutReason()` if nothing else did first.
    func attempt(
        _ target: HealthTarget,
        timeoutReason: @escaping @Sendable () -> String = { "timeout" },
        _ start: (any EventLoop, SocketAddress, EventLoopPromise<String>) -> Void
    ) async -> ProbeResult {
        let began = ContinuousClock.now
        let loop = group.next()
        let promise = loop.makePromise(of: String.self)
        let timeout = target.timeout
        let timer = loop.scheduleTask(in: timeout.timeAmount) {
            // A timer this late means the event loop (or the whole process) was starved: the target may well
            // have answered in time. Counting that as a failure would let an overloaded checker (thousands of
            // silent endpoints, a loaded host) take healthy backends out of service.
            let late = began.duration(to: .now) - timeout
            promise.succeed(late > Self.starvation(timeout) ? Self.overloaded(late) : timeoutReason())
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        do {
            start(loop, try target.socketAddress, promise)
        } catch {
            promise.succeed("invalid address \(target.address): \(error)")
        }
        // The promise is always completed: by the probe, or by the timer.
        let reason = (try? await promise.futureResult.get()) ?? "cancelled"
        let latency = began.duration(to: .now)
        if reason.hasPrefix(Self.overloadedPrefix) { return .inconclusive(reason, latency: latency) }
        return ProbeResult(success: reason == "ok", reason: reason, latency: latency)
    }

    static let overloadedPrefix = "inconclusive: checker overloaded"

    /// How late a timeout may fire before it proves nothing: the timeout itself, at least 1 s. (An idle
    /// loop fires within milliseconds; a busy test host within a few hundred.)
    static func starvation(_ timeout: Duration) -> Duration { max(timeout, .seconds(1)) }

    static func overloaded(_ late: Duration) -> String {
        "\(overloadedPrefix) (timeout fired \(late.nanoseconds / 1_000_000) ms late)"
    }
}

extension HealthTarget {
    var socketAddress: SocketAddress {
        get throws { try SocketAddress(ipAddress: address.description, port: Int(port)) }
    }

    /// `address:port`, with an IPv6 address in brackets.
    var hostAndPort: String {
        address.family == .inet6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

extension Duration {
    var timeAmount: TimeAmount { .nanoseconds(max(nanoseconds, 0)) }
}

/// Names a socket error the way an operator reads it: `connection refused`, `no route to host`.
func describeProbeError(_ error: any Error) -> String {
    switch error {
    case let error as IOError:
        return describeErrno(error.errnoCode)
    case let error as NIOConnectionError:
        return error.connectionErrors.first.map { describeProbeError($0.error) } ?? "connect failed"
    case ChannelError.connectTimeout:
        return "timeout"
    case ChannelError.eof, ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed:
        return "connection closed"
    default:
        return "\(error)"
    }
}

func describeErrno(_ code: CInt) -> String {
    switch code {
    case ECONNREFUSED: "connection refused"
    case EHOSTUNREACH: "no route to host"
    case ENETUNREACH: "network unreachable"
    case ECONNRESET: "connection reset"
    case ETIMEDOUT: "timeout"
    case EADDRNOTAVAIL: "address not available"
    default: String(cString: strerror(code))
    }
}

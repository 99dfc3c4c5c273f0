import Foundation
import IPVS
import ServiceTables
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// TCP connect checks with no channel and no task each: one thread owns an epoll set, and a check is a
/// non-blocking `connect`, one readiness event, `SO_ERROR`, and a reset close.
///
/// This is the check an agent runs tens of thousands of times a second. SwiftNIO's `ClientBootstrap` builds a
/// channel, a pipeline and several promises for each connection, and the monitor used to add a task per
/// check on top: several times the work of the system calls themselves. The checker keeps NIO's semantics
/// (connect within the timeout is healthy; a timeout that fires far too late is inconclusive, see
/// `NIOProber.starvation`) and uses no more descriptors: one socket per check in flight, plus two.
///
/// The thread starts with the first check and ends after `idleLinger` with nothing to do, so a checker needs no
/// lifecycle of its own: dropping the last reference to an idle one closes its two descriptors. Completions run
/// on the checker's thread and must not block.
final class TCPConnectChecker: Sendable {
    typealias Completion = @Sendable (ProbeResult) -> Void

    /// A check handed to the thread.
    struct Request {
        var address: SocketAddressStorage
        var timeout: Duration
        var completion: Completion
    }

    private struct Inbox {
        var requests: [Request] = []
        var running = false
    }

    /// How long the thread waits for work before it ends.
    static let idleLinger: Duration = .seconds(5)

    private let epoll: CInt
    /// A pipe rather than an eventfd: Glibc's Swift module has no <sys/eventfd.h> either.
    private let wakeupReader: CInt
    private let wakeup: CInt
    private let inbox = Mutex(Inbox())

    /// Nil when there is no epoll set or wake-up pipe to be had (descriptor exhaustion at start): callers
    /// fall back to SwiftNIO.
    init?() {
        guard let epoll = EPoll.create() else { return nil }
        var ends: [CInt] = [-1, -1]
        guard pipe(&ends) == 0 else {
            close(epoll)
            return nil
        }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        guard EPoll.add(epoll, ends[0], events: EPoll.readable, token: Self.wakeupToken) else {
            for end in ends { close(end) }
            close(epoll)
            return nil
        }
        self.epoll = epoll
        self.wakeupReader = ends[0]
        self.wakeup = ends[1]
    }

    deinit {
        // The thread holds the checker while it runs: reaching here means it never started or has ended.
        close(wakeup)
        close(wakeupReader)
        close(epoll)
    }

    /// Starts a check of `address`; `completion` runs once, on the checker's thread.
    func check(_ address: SocketAddressStorage, timeout: Duration, completion: @escaping Completion) {
        let (wasEmpty, start) = inbox.withLock { inbox -> (Bool, Bool) in
            let wasEmpty = inbox.requests.isEmpty
            inbox.requests.append(Request(address: address, timeout: timeout, completion: completion))
            defer { inbox.running = true }
            return (wasEmpty, !inbox.running)
        }
        if start {
            Thread {
                nameThisThread("ipvsd-tcp-checks")
                self.run()
            }.start()
        }
        // The thread reads the eventfd before it takes the requests, so one signal covers every request
        // appended until it takes them: only the first of a burst needs the system call.
        if wasEmpty { signal() }
    }

    private func signal() {
        var one: UInt8 = 1
        _ = write(wakeup, &one, 1)
    }

    // MARK: The thread

    private static let wakeupToken = UInt64.max

    private func run() {
        var loop = Loop(epoll: epoll)
        let events = EPoll.Events(capacity: 256)
        var idleSince: ContinuousClock.Instant?
        while true {
            let wait = loop.isIdle ? CInt(Self.idleLinger.components.seconds * 1000) : loop.waitMilliseconds()
            let count = events.wait(epoll, milliseconds: wait)
            if count < 0 && errno != EINTR {
                // Not expected with a valid epoll set: fail what is in flight (proving nothing about the targets)
                // and let the next check start a new thread.
                loop.failAll("inconclusive: health checker failed (epoll_wait: \(describeErrno(errno)))")
                usleep(10_000)  // not a hot loop if it keeps failing: the thread ends once idle
            }
            for index in 0..<max(Int(count), 0) {
                let token = events.token(at: index)
                if token == Self.wakeupToken {
                    var drain = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
                    while withUnsafeMutableBytes(of: &drain, { read(wakeupReader, $0.baseAddress, $0.count) }) > 0 {}
                    let requests = inbox.withLock { inbox in
                        defer { inbox.requests.removeAll(keepingCapacity: true) }
                        return inbox.requests
                    }
                    for request in requests { loop.start(request) }
                } else {
                    loop.ready(token, events: events.events(at: index))
                }
            }
            loop.expire()
            guard loop.isIdle else {
                idleSince = nil
                continue
            }
            let now = ContinuousClock.now
            guard let since = idleSince, since.duration(to: now) >= Self.idleLinger else {
                if idleSince == nil { idleSince = now }
                continue
            }
            // Ends only when no request is waiting, decided under the lock `check` appends under.
            let ended = inbox.withLock { inbox -> Bool in
                guard inbox.requests.isEmpty else { return false }
                inbox.running = false
                return true
            }
            if ended { return }
        }
    }

    /// What only the checker's thread touches: the checks in flight, by slot, and their deadlines.
    private struct Loop {
        struct Check {
            var descriptor: CInt
            var began: ContinuousClock.Instant
            var timeout: Duration
            var completion: Completion
        }

        let epoll: CInt
        let origin = ContinuousClock.now
        var slots: [Check?] = []
        /// Bumped each time a slot is reused, so a stale epoll event or deadline never finishes a newer check.
        var generations: [UInt32] = []
        var free: [Int] = []
        var deadlines = DeadlineHeap<UInt64>()

        init(epoll: CInt) { self.epoll = epoll }

        var isIdle: Bool { deadlines.isEmpty }

        static func token(slot: Int, generation: UInt32) -> UInt64 { UInt64(generation) << 32 | UInt64(slot) }

        mutating func start(_ request: Request) {
            let began = ContinuousClock.now
            let descriptor = socket(
                CInt(request.address.family),
                CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue),
                0
            )
            guard descriptor >= 0 else {
                // Out of descriptors or memory here says nothing about the target.
                request.completion(
                    .inconclusive("inconclusive: checker cannot open a socket (\(describeErrno(errno)))")
                )
                return
            }
            let status = request.address.withSockaddr { connect(descriptor, $0, $1) }
            if status == 0 {
                finish(descriptor, .ok(latency: began.duration(to: .now)), request.completion)
                return
            }
            let code = errno
            guard code == EINPROGRESS else {
                finish(descriptor, .failure(describeErrno(code), latency: began.duration(to: .now)), request.completion)
                return
            }
            let slot: Int
            if let reused = free.popLast() {
                slot = reused
                generations[slot] &+= 1
            } else {
                slot = slots.count
                slots.append(nil)
                generations.append(0)
            }
            let token = Self.token(slot: slot, generation: generations[slot])
            guard EPoll.add(epoll, descriptor, events: EPoll.writable | EPoll.error | EPoll.hangup, token: token) else {
                free.append(slot)
                let reason = "inconclusive: checker cannot wait for a socket (\(describeErrno(errno)))"
                close(descriptor)
                request.completion(.inconclusive(reason))
                return
            }
            slots[slot] = Check(
                descriptor: descriptor,
                began: began,
                timeout: request.timeout,
                completion: request.completion
            )
            deadlines.insert(token, at: origin.duration(to: began) + request.timeout)
        }

        /// The socket is writable or failed: the handshake is over, either way.
        mutating func ready(_ token: UInt64, events: UInt32) {
            guard let check = take(token) else { return }
            var error: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            let latency = check.began.duration(to: .now)
            // Writable with neither error nor hang-up is a completed handshake (tcp_poll reports a pending
            // socket error as EPOLLERR): SO_ERROR is asked only when there is one to read, a system call saved
            // on every healthy check.
            let failed = events & (EPoll.error | EPoll.hangup) != 0
            if failed, getsockopt(check.descriptor, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
            let result: ProbeResult =
                error == 0 ? .ok(latency: latency) : .failure(describeErrno(error), latency: latency)
            finish(check.descriptor, result, check.completion)
        }

        /// Completes every check whose deadline has passed.
        mutating func expire() {
            let now = ContinuousClock.now
            let elapsed = origin.duration(to: now)
            while let first = deadlines.min, first.deadline <= elapsed {
                deadlines.removeMin()
                guard let check = take(first.element) else { continue }
                let late = elapsed - first.deadline
                let latency = check.began.duration(to: now)
                let result: ProbeResult =
                    late > NIOProber.starvation(check.timeout)
                    ? .inconclusive(NIOProber.overloaded(late), latency: latency)
                    : .failure("timeout", latency: latency)
                finish(check.descriptor, result, check.completion)
            }
        }

        /// How long epoll may sleep: until the earliest deadline, rounded up to a millisecond; forever when idle.
        func waitMilliseconds() -> CInt {
            guard let first = deadlines.min else { return -1 }
            let left = first.deadline - origin.duration(to: .now)
            guard left > .zero else { return 0 }
            return CInt(clamping: left.millisecondsRoundedUp)
        }

        mutating func failAll(_ reason: String) {
            for slot in slots.indices {
                guard let check = slots[slot] else { continue }
                slots[slot] = nil
                finish(check.descriptor, .inconclusive(reason), check.completion)
            }
            deadlines = DeadlineHeap()
        }

        private mutating func take(_ token: UInt64) -> Check? {
            let slot = Int(token & 0xFFFF_FFFF)
            guard slot < slots.count, generations[slot] == UInt32(token >> 32), let check = slots[slot] else {
                return nil
            }
            slots[slot] = nil
            free.append(slot)
            return check
        }

        /// Resets rather than closes, like HAProxy: no TIME_WAIT per check on either side. Closing the socket
        /// also takes it out of the epoll set.
        private func finish(_ descriptor: CInt, _ result: ProbeResult, _ completion: Completion) {
            var reset = linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
            close(descriptor)
            completion(result)
        }
    }
}

/// An IPv4 or IPv6 socket address built from the model's types, with no text round trip.
struct SocketAddressStorage: Sendable {
    private var storage = sockaddr_in6()
    let family: sa_family_t

    init(_ address: IPAddress, port: UInt16) {
        if let value = address.ipv4Value {
            family = sa_family_t(AF_INET)
            var v4 = sockaddr_in()
            v4.sin_family = family
            v4.sin_port = port.bigEndian
            v4.sin_addr.s_addr = value.bigEndian
            withUnsafeMutableBytes(of: &storage) { target in
                withUnsafeBytes(of: v4) { target.copyMemory(from: $0) }
            }
        } else {
            family = sa_family_t(AF_INET6)
            storage.sin6_family = family
            storage.sin6_port = port.bigEndian
            let bytes = address.bytes
            withUnsafeMutableBytes(of: &storage.sin6_addr) { target in
                bytes.withUnsafeBytes { target.copyMemory(from: $0) }
            }
        }
    }

    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        let length = socklen_t(
            family == sa_family_t(AF_INET) ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size
        )
        return withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}

/// The three epoll calls, bound at run time. Glibc's Swift module leaves out <sys/epoll.h> (SwiftNIO carries a C
/// shim of its own for it), and this project keeps its C to one target, CNetlink, imported by IPVS alone. The
/// calls take only integers and a pointer; the constants are the kernel's ABI.
enum EPoll {
    private typealias Create = @convention(c) (CInt) -> CInt
    private typealias Control = @convention(c) (CInt, CInt, CInt, UnsafeMutableRawPointer?) -> CInt
    private typealias Wait = @convention(c) (CInt, UnsafeMutableRawPointer?, CInt, CInt) -> CInt

    private static func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
        // nil is RTLD_DEFAULT: the C library the process already links.
        dlsym(nil, name).map { unsafeBitCast($0, to: type) }
    }

    private static let createCall = symbol("epoll_create1", as: Create.self)
    private static let controlCall = symbol("epoll_ctl", as: Control.self)
    private static let waitCall = symbol("epoll_wait", as: Wait.self)

    static let readable: UInt32 = 0x001  // EPOLLIN
    static let writable: UInt32 = 0x004  // EPOLLOUT
    static let error: UInt32 = 0x008  // EPOLLERR
    static let hangup: UInt32 = 0x010  // EPOLLHUP
    private static let controlAdd: CInt = 1  // EPOLL_CTL_ADD

    /// `struct epoll_event` is `{ uint32_t events; uint64_t data; }`, packed (12 bytes) on x86-64 and naturally
    /// aligned (16 bytes) elsewhere.
    #if arch(x86_64)
    static let eventSize = 12
    static let dataOffset = 4
    #else
    static let eventSize = 16
    static let dataOffset = 8
    #endif

    /// A new epoll set, close-on-exec (EPOLL_CLOEXEC is O_CLOEXEC).
    static func create() -> CInt? {
        guard let createCall else { return nil }
        let descriptor = createCall(CInt(O_CLOEXEC))
        return descriptor >= 0 ? descriptor : nil
    }

    /// Watches `descriptor` for `events`; the token comes back with each event.
    static func add(_ epoll: CInt, _ descriptor: CInt, events: UInt32, token: UInt64) -> Bool {
        guard let controlCall else { return false }
        var event = (UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &event) { raw in
            raw.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: token, toByteOffset: dataOffset, as: UInt64.self)
            return controlCall(epoll, controlAdd, descriptor, raw.baseAddress) == 0
        }
    }

    /// A buffer `epoll_wait` fills.
    final class Events {
        private let buffer: UnsafeMutableRawPointer
        private let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
            buffer = .allocate(byteCount: capacity * EPoll.eventSize, alignment: 8)
        }

        deinit { buffer.deallocate() }

        /// Waits up to `milliseconds` (-1: no limit); the number of events, or -1 with errno set.
        func wait(_ epoll: CInt, milliseconds: CInt) -> CInt {
            guard let waitCall = EPoll.waitCall else {
                errno = ENOSYS
                return -1
            }
            return waitCall(epoll, buffer, CInt(capacity), milliseconds)
        }

        /// The event bits (`EPOLLOUT`, `EPOLLERR`, ...) of the event at `index`.
        func events(at index: Int) -> UInt32 {
            buffer.loadUnaligned(fromByteOffset: index * EPoll.eventSize, as: UInt32.self)
        }

        func token(at index: Int) -> UInt64 {
            buffer.loadUnaligned(fromByteOffset: index * EPoll.eventSize + EPoll.dataOffset, as: UInt64.self)
        }
    }
}

/// Names the calling thread for `top -H`, /proc and the benchmark (which finds the checker's CPU time by it);
/// Foundation's `Thread.name` does not reach the kernel on Linux, and Glibc's Swift module hides
/// pthread_setname_np (a GNU extension). The kernel keeps 15 bytes.
private func nameThisThread(_ name: String) {
    typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> CInt
    guard let symbol = dlsym(nil, "pthread_setname_np") else { return }  // nil is RTLD_DEFAULT
    _ = unsafeBitCast(symbol, to: SetName.self)(pthread_self(), String(name.utf8.prefix(15)) ?? name)
}

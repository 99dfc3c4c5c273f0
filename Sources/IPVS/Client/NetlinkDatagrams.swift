internal import CNetlink

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The receiving side of a netlink socket's descriptor, and its batch limits: the one receive loop of the
/// IPVS client (generic netlink) and the host network's batched route requests (rtnetlink).
///
/// Not Sendable: it belongs to the socket object that owns the descriptor.
struct NetlinkDatagrams {
    let descriptor: Int32
    private var buffer: [UInt8]
    /// The length passed to `recv`. The kernel sizes each later part of a dump to the largest length the
    /// socket received with (capped near 32 KiB), so this decides where a multi-part listing's seams fall.
    private let receiveLength: Int
    /// Largest batch one `sendmsg` may carry, from the socket's send buffer.
    let maximumBatchBytes: Int
    /// Most acknowledgements one batch may produce before the receive buffer could overflow.
    let maximumBatchMessages: Int

    /// Sets the descriptor up for batches: acknowledgements carry only the header of a failed request
    /// (`NETLINK_CAP_ACK`), and both buffers are `bufferSize` (or the most the system allows).
    /// - Parameter receiveLength: the `recv` length, at most the 256 KiB buffer; smaller moves a dump's seams.
    init(descriptor: Int32, bufferSize: Int, receiveLength: Int? = nil) {
        self.descriptor = descriptor
        buffer = [UInt8](repeating: 0, count: 256 * 1024)
        self.receiveLength = min(receiveLength ?? buffer.count, buffer.count)
        Self.setOption(descriptor, cnl_sol_netlink, NETLINK_CAP_ACK, 1)
        Self.setBuffer(descriptor, force: SO_SNDBUFFORCE, plain: SO_SNDBUF, bytes: bufferSize)
        Self.setBuffer(descriptor, force: SO_RCVBUFFORCE, plain: SO_RCVBUF, bytes: bufferSize)
        // No floor above the buffers: a batch bigger than the send buffer fails with EMSGSIZE, and more
        // acknowledgements than the receive buffer holds are dropped (ENOBUFS). One message always goes.
        maximumBatchBytes = max(1, Self.getOption(descriptor, SOL_SOCKET, SO_SNDBUF) / 2)
        // An acknowledgement costs the receive buffer about 1 KiB of skb truesize; keep a 2x margin.
        maximumBatchMessages = max(1, Self.getOption(descriptor, SOL_SOCKET, SO_RCVBUF) / 2048)
    }

    /// Passes the next datagram to `body` in place, waiting up to `timeout` milliseconds for one; `body`
    /// must not keep the slice.
    mutating func receive<R>(
        timeoutMilliseconds timeout: Int32,
        _ body: (ArraySlice<UInt8>) throws(IPVSError) -> R
    ) throws(IPVSError) -> R {
        while true {
            // Replies are usually already queued: try first, and poll only when there is nothing yet.
            let count = buffer.withUnsafeMutableBytes {
                recv(descriptor, $0.baseAddress, receiveLength, Int32(MSG_TRUNC) | Int32(MSG_DONTWAIT))
            }
            if count >= 0 {
                guard count <= receiveLength else {
                    throw malformed("a \(count)-byte datagram exceeds the \(receiveLength)-byte receive buffer")
                }
                return try body(buffer[0..<count])
            }
            switch errno {
            case EINTR:
                continue
            case EAGAIN:
                try waitForData(timeoutMilliseconds: timeout)
            case ENOBUFS:
                throw IPVSError(
                    .acknowledgementLost,
                    "the netlink receive buffer overflowed: replies were lost",
                    errno: ENOBUFS
                )
            case let err:
                throw Self.systemError("receive from the kernel", err)
            }
        }
    }

    /// Reads the acknowledgements of `count` requests numbered from `first` (one batch, just sent), and
    /// calls `refused` with each refused request's offset in the batch and its errno. Replies with other
    /// sequence numbers (late ones of an earlier, timed-out request) are skipped.
    mutating func acknowledgements(
        of count: Int,
        from first: UInt32,
        timeoutMilliseconds timeout: Int32,
        refused: (_ offset: Int, _ errno: Int32) -> Void
    ) throws(IPVSError) {
        var answered = [Bool](repeating: false, count: count)
        var remaining = count
        while remaining > 0 {
            try receive(timeoutMilliseconds: timeout) { (datagram) throws(IPVSError) in
                try NetlinkMessage.forEachAcknowledgement(in: datagram) { sequence, errno in
                    let offset = Int(sequence &- first)
                    guard offset < count, !answered[offset] else { return }
                    answered[offset] = true
                    remaining -= 1
                    if errno != 0 { refused(offset, errno) }
                }
            }
        }
    }

    private func waitForData(timeoutMilliseconds timeout: Int32) throws(IPVSError) {
        var pollfd = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&pollfd, 1, timeout)
            if ready > 0 { return }
            if ready == 0 { throw IPVSError(.timedOut, "no reply from the kernel within \(timeout) ms") }
            if errno != EINTR { throw Self.systemError("wait for the kernel's reply", errno) }
        }
    }

    private static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    private static func getOption(_ fd: Int32, _ level: Int32, _ name: Int32) -> Int {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, level, name, &value, &length) == 0 ? Int(value) : 0
    }

    /// The FORCE variants (CAP_NET_ADMIN) exceed `net.core.[rw]mem_max`; fall back to the capped ones.
    private static func setBuffer(_ fd: Int32, force: Int32, plain: Int32, bytes: Int) {
        var value = Int32(clamping: bytes)
        let size = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, force, &value, size) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, plain, &value, size)
        }
    }

    private static func systemError(_ step: String, _ err: Int32) -> IPVSError {
        IPVSError(.connectionFailed, "cannot \(step): \(IPVSError.describe(errno: err))", errno: err)
    }
}

internal import CNetlink

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A generic-netlink socket bound to the IPVS family. The only place that calls libnl.
///
/// Not Sendable: one `IPVSClient` owns it behind a mutex and frees it in `deinit`.
final class NetlinkSocket {
    private let handle: OpaquePointer
    private let descriptor: Int32
    let familyID: UInt16
    /// Largest batch one `sendmsg` may carry, from the socket's send buffer.
    let maximumBatchBytes: Int
    /// Most acknowledgements one batch may produce before the receive buffer could overflow.
    let maximumBatchMessages: Int
    private var buffer: [UInt8]
    /// The length passed to `recv`. The kernel sizes each later part of a dump to the largest length the
    /// socket received with (capped near 32 KiB), so this decides where a multi-part listing's seams fall.
    private let receiveLength: Int

    /// - Parameter receiveLength: the `recv` length, at most the 256 KiB buffer; smaller moves a dump's seams.
    init(namespace: NetworkNamespace, bufferSize: Int, receiveLength: Int? = nil) throws(IPVSError) {
        guard let handle = nl_socket_alloc() else {
            throw IPVSError(.connectionFailed, "cannot allocate a netlink socket (out of memory)")
        }
        self.handle = handle
        self.buffer = [UInt8](repeating: 0, count: 256 * 1024)
        self.receiveLength = min(receiveLength ?? buffer.count, buffer.count)
        do throws(IPVSError) {
            try Self.connect(handle, namespace: namespace)
            descriptor = nl_socket_get_fd(handle)
            // Acks then carry only the header of the failed request, and the buffers hold whole batches.
            Self.setOption(descriptor, cnl_sol_netlink, NETLINK_CAP_ACK, 1)
            Self.setBuffer(descriptor, force: SO_SNDBUFFORCE, plain: SO_SNDBUF, bytes: bufferSize)
            Self.setBuffer(descriptor, force: SO_RCVBUFFORCE, plain: SO_RCVBUF, bytes: bufferSize)
            // No floor above the buffers: a batch bigger than the send buffer fails with EMSGSIZE, and more
            // acknowledgements than the receive buffer holds are dropped (ENOBUFS). One message always goes.
            maximumBatchBytes = max(1, Self.getOption(descriptor, SOL_SOCKET, SO_SNDBUF) / 2)
            // An acknowledgement costs the receive buffer about 1 KiB of skb truesize; keep a 2x margin.
            maximumBatchMessages = max(1, Self.getOption(descriptor, SOL_SOCKET, SO_RCVBUF) / 2048)
            familyID = try Self.resolveFamily(handle)
        } catch {
            nl_socket_free(handle)
            throw error
        }
    }

    deinit { nl_socket_free(handle) }

    private static func connect(_ handle: OpaquePointer, namespace: NetworkNamespace) throws(IPVSError) {
        switch namespace {
        case .current:
            try check(genl_connect(handle), "connect generic netlink socket")
        case .path(let path):
            let result = try NamespaceThread.run(inNamespaceAt: path) { genl_connect(handle) }
            try check(result, "connect generic netlink socket in \(path)")
        }
    }

    private static func resolveFamily(_ handle: OpaquePointer) throws(IPVSError) -> UInt16 {
        let id = genl_ctrl_resolve(handle, IPVSWire.familyName)
        if id == -NLE_OBJ_NOTFOUND {
            throw IPVSError(
                .ipvsUnavailable,
                "IPVS is not available: the kernel has no 'IPVS' generic netlink family"
                    + " (load it with 'modprobe ip_vs'; the kernel needs CONFIG_IP_VS)"
            )
        }
        try check(id, "resolve the IPVS generic netlink family")
        return UInt16(id)
    }

    /// The choke point for libnl calls: a negative result becomes a typed error naming the step.
    private static func check(_ result: Int32, _ step: String) throws(IPVSError) {
        guard result < 0 else { return }
        let text = String(cString: nl_geterror(result))
        let code: IPVSError.Code = result == -NLE_PERM ? .permissionDenied : .connectionFailed
        throw IPVSError(code, "cannot \(step): \(text)")
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

    /// Sends one datagram holding one or more netlink messages.
    func send(_ bytes: [UInt8]) throws(IPVSError) {
        let result = bytes.withUnsafeBytes { raw in
            nl_sendto(handle, UnsafeMutableRawPointer(mutating: raw.baseAddress), raw.count)
        }
        try Self.check(result, "send to the kernel")
    }

    /// Returns the next datagram, waiting up to `timeout` milliseconds for one.
    ///
    /// Returns a copy: slices of the reusable buffer would force a copy-on-write of all of it on the next call.
    func receive(timeoutMilliseconds timeout: Int32) throws(IPVSError) -> [UInt8] {
        try receive(timeoutMilliseconds: timeout) { (datagram) throws(IPVSError) in Array(datagram) }
    }

    /// Passes the next datagram to `body` in place, waiting up to `timeout` milliseconds for one; `body`
    /// must not keep the slice.
    func receive<R>(
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

    private func waitForData(timeoutMilliseconds timeout: Int32) throws(IPVSError) {
        var pollfd = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&pollfd, 1, timeout)
            if ready > 0 { return }
            if ready == 0 { throw IPVSError(.timedOut, "no reply from the kernel within \(timeout) ms") }
            if errno != EINTR { throw Self.systemError("wait for the kernel's reply", errno) }
        }
    }

    /// Test hook: replaces the socket's descriptor with /dev/null, as if the socket had broken underneath.
    func breakForTesting() {
        let null = open("/dev/null", O_RDWR)
        _ = dup2(null, descriptor)
        close(null)
    }

    private static func systemError(_ step: String, _ err: Int32) -> IPVSError {
        IPVSError(.connectionFailed, "cannot \(step): \(IPVSError.describe(errno: err))", errno: err)
    }
}

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
    private var datagrams: NetlinkDatagrams
    let familyID: UInt16
    /// Largest batch one `sendmsg` may carry, from the socket's send buffer.
    var maximumBatchBytes: Int { datagrams.maximumBatchBytes }
    /// Most acknowledgements one batch may produce before the receive buffer could overflow.
    var maximumBatchMessages: Int { datagrams.maximumBatchMessages }

    /// - Parameter receiveLength: the `recv` length, at most the 256 KiB buffer; smaller moves a dump's seams.
    init(namespace: NetworkNamespace, bufferSize: Int, receiveLength: Int? = nil) throws(IPVSError) {
        guard let handle = nl_socket_alloc() else {
            throw IPVSError(.connectionFailed, "cannot allocate a netlink socket (out of memory)")
        }
        self.handle = handle
        do throws(IPVSError) {
            try Self.connect(handle, namespace: namespace)
            datagrams = NetlinkDatagrams(
                descriptor: nl_socket_get_fd(handle),
                bufferSize: bufferSize,
                receiveLength: receiveLength
            )
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
        try datagrams.receive(timeoutMilliseconds: timeout) { (datagram) throws(IPVSError) in Array(datagram) }
    }

    /// See ``NetlinkDatagrams/acknowledgements(of:from:timeoutMilliseconds:refused:)``.
    func acknowledgements(
        of count: Int,
        from first: UInt32,
        timeoutMilliseconds timeout: Int32,
        refused: (_ offset: Int, _ errno: Int32) -> Void
    ) throws(IPVSError) {
        try datagrams.acknowledgements(of: count, from: first, timeoutMilliseconds: timeout, refused: refused)
    }

    /// Test hook: replaces the socket's descriptor with /dev/null, as if the socket had broken underneath.
    func breakForTesting() {
        let null = open("/dev/null", O_RDWR)
        _ = dup2(null, datagrams.descriptor)
        close(null)
    }
}

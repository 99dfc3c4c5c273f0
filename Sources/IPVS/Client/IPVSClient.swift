import Synchronization

/// A client of the kernel's IPVS over generic netlink.
///
/// Thread-safe: requests are serialized on one socket (the kernel takes one global IPVS mutex per request,
/// so parallel sockets would gain nothing). Every write goes through ``apply(_:progress:)``, which packs
/// many operations into few `sendmsg` calls. A reply that does not come within
/// ``Configuration/replyTimeout`` fails the request; a failed socket is closed and reopened on next use.
public final class IPVSClient: IPVSKernel, Sendable {
    public struct Configuration: Sendable {
        /// The namespace whose IPVS tables this client manages.
        public var namespace: NetworkNamespace
        /// How long to wait for each reply before giving up.
        public var replyTimeout: Duration
        /// Send and receive buffer size; bigger buffers mean fewer system calls per bulk apply.
        public var socketBufferSize: Int
        /// How many extra reads in a row must find nothing new before a multi-part service listing is
        /// trusted (see ``IPVSClient/services()``). 0 reads once, as ipvsadm does, and may skip or repeat
        /// services while other namespaces change theirs. The default is 3, one read at each of the three
        /// re-read part sizes: with 2, a listing of 1,500 services missed one while another namespace churned
        /// as fast as it could (a skip after a seam repeated in both quiet reads), once in about ten runs of
        /// the six-listing churn test.
        public var listingConfirmations: Int

        public init(
            namespace: NetworkNamespace = .current,
            replyTimeout: Duration = .seconds(10),
            socketBufferSize: Int = 4 << 20,
            listingConfirmations: Int = 3
        ) {
            self.namespace = namespace
            self.replyTimeout = replyTimeout
            self.socketBufferSize = socketBufferSize
            self.listingConfirmations = listingConfirmations
        }
    }

    private struct State {
        var socket: SocketSlot<NetlinkSocket>
        var nextSequence: UInt32 = 1
    }

    public let configuration: Configuration
    private let state: Mutex<State>

    /// Opens the socket and resolves the IPVS family.
    /// - Throws: ``IPVSError/Code/ipvsUnavailable`` without IPVS, ``IPVSError/Code/connectionFailed``.
    public init(configuration: Configuration = Configuration()) throws(IPVSError) {
        self.configuration = configuration
        let socket = try NetlinkSocket(namespace: configuration.namespace, bufferSize: configuration.socketBufferSize)
        self.state = Mutex(State(socket: SocketSlot(socket: socket)))
    }

    var timeoutMilliseconds: Int32 {
        Int32(clamping: configuration.replyTimeout.millisecondsRoundedUp)
    }

    /// Runs `body` with the open socket, reopening it if an earlier failure closed it, and closes it when
    /// `body` leaves it in an unknown state.
    func withSocket<R: Sendable>(
        _ body: (NetlinkSocket, inout UInt32) throws(IPVSError) -> R
    ) throws(IPVSError) -> R {
        let configuration = configuration
        return try state.withLock { (state: inout State) throws(IPVSError) -> R in
            var sequence = state.nextSequence
            defer { state.nextSequence = sequence }
            return try state.socket.use {
                () throws(IPVSError) -> NetlinkSocket in
                try NetlinkSocket(namespace: configuration.namespace, bufferSize: configuration.socketBufferSize)
            } _: { (socket: NetlinkSocket) throws(IPVSError) -> R in
                try body(socket, &sequence)
            }
        }
    }

    /// Takes `count` request sequence numbers without the socket (a stream numbers its batches ahead of
    /// sending them); returns the first.
    func reserveSequences(_ count: Int) -> UInt32 {
        state.withLock { state in
            let first = state.nextSequence
            state.nextSequence &+= UInt32(truncatingIfNeeded: count)
            return first
        }
    }

    /// Test hook: breaks the open socket so the next request fails and the one after reopens it.
    func breakSocketForTesting() {
        state.withLock { $0.socket.socket?.breakForTesting() }
    }

    /// Test hook: waits for a reply nobody asked for, to exercise the reply timeout.
    func receiveUnsolicitedForTesting() throws(IPVSError) {
        try withSocket { (socket, _) throws(IPVSError) in
            _ = try socket.receive(timeoutMilliseconds: timeoutMilliseconds)
        }
    }

    // MARK: Writes

    /// Applies one operation.
    /// - Throws: the operation's ``IPVSError``.
    public func perform(_ operation: IPVSOperation) throws(IPVSError) {
        if let failure = apply([operation]).failures.first { throw failure.error }
    }

    // MARK: Reads

    /// Every virtual service, with counters.
    ///
    /// A table too big for one reply arrives in several parts, and the kernel resumes each part by position
    /// in a hash table shared by all network namespaces: a service added or deleted meanwhile, in any
    /// namespace, makes a single read skip or repeat entries near the seams. So a listing that came in
    /// several parts is read again, merging what each read saw, until ``Configuration/listingConfirmations``
    /// reads in a row bring nothing new (a one-part listing is taken under one kernel lock and is exact). Services added or deleted in this
    /// namespace while it is listed may or may not appear, as with any listing.
    /// - Throws: ``IPVSError/Code/inconsistentListing`` when reads keep finding new services.
    public func services() throws(IPVSError) -> [ObservedVirtualServer] {
        let (first, parts) = try request(IPVSWire.Command.getService, dump: true, what: "services")
        var listing: [ObservedVirtualServer] = []
        listing.reserveCapacity(first.count)
        for reply in first { listing.append(try IPVSDecoder.service(reply)) }
        if parts <= 1 { return listing }
        // A seam may also have repeated entries: keep the first of each.
        var seen = Set<VirtualServer.ID>()
        listing.removeAll { !seen.insert($0.virtualServer.id).inserted }
        let confirmations = max(0, configuration.listingConfirmations)
        if confirmations == 0 { return listing }
        var quietReads = 0
        for reads in 1..<Self.maximumListingReads + confirmations {
            // Later reads only look for services the earlier ones missed: identities first, entries if new.
            let (again, _) = try confirmingRead(reads)
            var foundNew = false
            for reply in again where seen.insert(try IPVSDecoder.serviceID(reply)).inserted {
                listing.append(try IPVSDecoder.service(reply))
                foundNew = true
            }
            quietReads = foundNew ? 0 : quietReads + 1
            if quietReads == confirmations { return listing }
        }
        throw IPVSError(
            .inconsistentListing,
            "the kernel's service table kept changing while it was listed (\(Self.maximumListingReads + confirmations) reads)"
        )
    }

    /// Reads that may find new services before a listing gives up, besides the confirming ones. A quiet table
    /// needs none; a busy one settles within a few, but a namespace being torn down beside it (its services
    /// deleted by the kernel's cleanup) kept every one of 6 reads finding something new once in the kernel
    /// suite, right after the soak test, so a full resync would have failed and been retried. Each read costs
    /// one dump of this namespace's services, and only a table that keeps changing uses them all.
    static let maximumListingReads = 14

    /// The `recv` lengths of the re-reads, each on a socket of its own. A dump resumes by position, so a
    /// service right after a seam is the one another namespace's deletions make it skip; parts sized apart
    /// from the main socket's (about 32 KiB) and from each other put every re-read's seams elsewhere, so
    /// a skip at one seam cannot repeat in every read. None is under 20 KiB: a fresh socket's first part
    /// is sized by the kernel alone (16,320 bytes on Debian's 6.1).
    static let rereadReceiveLengths = [28 << 10, 24 << 10, 20 << 10]

    /// The `reads`-th re-read of the service listing, on a fresh socket with its own part size.
    private func confirmingRead(_ reads: Int) throws(IPVSError) -> (replies: [NetlinkAttributes], parts: Int) {
        let socket = try NetlinkSocket(
            namespace: configuration.namespace,
            bufferSize: configuration.socketBufferSize,
            receiveLength: Self.rereadReceiveLengths[(reads - 1) % Self.rereadReceiveLengths.count]
        )
        return try query(on: socket, sequence: 1, IPVSWire.Command.getService, dump: true, what: "services")
    }

    /// One virtual service.
    /// - Throws: ``IPVSError/Code/notFound`` when it does not exist.
    public func service(_ id: VirtualServer.ID) throws(IPVSError) -> ObservedVirtualServer {
        let (replies, _) = try request(IPVSWire.Command.getService, dump: false, what: "service \(id)") {
            $0.nest(IPVSWire.Top.service) { IPVSEncoder.putServiceID(id, into: &$0) }
        }
        guard let reply = replies.first else { throw malformed("empty reply to get service \(id)") }
        return try IPVSDecoder.service(reply)
    }

    /// The real servers of one virtual service, with connection counts and counters.
    public func servers(of id: VirtualServer.ID) throws(IPVSError) -> [ObservedRealServer] {
        // `what` is built only for an error: listing every real server is one dump per service.
        try dump(IPVSWire.Command.getDest, what: "real servers of \(id)", context: "real servers") {
            (reply) throws(IPVSError) in
            try IPVSDecoder.server(reply, serviceFamily: id.family)
        } attributes: {
            $0.nest(IPVSWire.Top.service) { IPVSEncoder.putServiceID(id, into: &$0) }
        }
    }

    /// Connection timeouts.
    public func timeouts() throws(IPVSError) -> Timeouts {
        let (replies, _) = try request(IPVSWire.Command.getConfig, dump: false, what: "timeouts")
        guard let reply = replies.first else { throw malformed("empty reply to get timeouts") }
        return try IPVSDecoder.timeouts(reply)
    }

    /// Running sync daemons.
    public func daemons() throws(IPVSError) -> [SyncDaemon] {
        try dump(IPVSWire.Command.getDaemon, what: "sync daemons") { (reply) throws(IPVSError) in
            try IPVSDecoder.daemon(reply)
        }
    }

    /// IPVS version and connection table size.
    public func info() throws(IPVSError) -> IPVSInfo {
        let (replies, _) = try request(IPVSWire.Command.getInfo, dump: false, what: "info")
        guard let reply = replies.first else { throw malformed("empty reply to get info") }
        return try IPVSDecoder.info(reply)
    }

    private func dump<T>(
        _ command: UInt8,
        what: @autoclosure () -> String,
        context: String? = nil,
        decode: (NetlinkAttributes) throws(IPVSError) -> T,
        attributes: (inout NetlinkWriter) -> Void = { _ in }
    ) throws(IPVSError) -> [T] {
        var results: [T] = []
        for reply in try request(command, dump: true, what: what(), context: context, attributes: attributes).replies {
            results.append(try decode(reply))
        }
        return results
    }

    /// Sends one query and collects the attributes of every reply message until the request is complete,
    /// with the number of datagrams (parts) that carried them.
    private func request(
        _ command: UInt8,
        dump: Bool,
        what: @autoclosure () -> String,
        context: String? = nil,
        attributes: (inout NetlinkWriter) -> Void = { _ in }
    ) throws(IPVSError) -> (replies: [NetlinkAttributes], parts: Int) {
        try withSocket { (socket, sequence) throws(IPVSError) -> (replies: [NetlinkAttributes], parts: Int) in
            let mine = sequence
            sequence &+= 1
            return try query(
                on: socket,
                sequence: mine,
                command,
                dump: dump,
                what: what(),
                context: context,
                attributes: attributes
            )
        }
    }

    /// One query on `socket`: sends it and collects the replies until the request is complete.
    private func query(
        on socket: NetlinkSocket,
        sequence mine: UInt32,
        _ command: UInt8,
        dump: Bool,
        what: @autoclosure () -> String,
        context: String? = nil,
        attributes: (inout NetlinkWriter) -> Void = { _ in }
    ) throws(IPVSError) -> (replies: [NetlinkAttributes], parts: Int) {
        var writer = NetlinkWriter()
        IPVSEncoder(familyID: socket.familyID).query(
            command,
            dump: dump,
            sequence: mine,
            into: &writer,
            attributes: attributes
        )
        try socket.send(writer.bytes)
        var replies: [NetlinkAttributes] = []
        var parts = 0
        while true {
            let datagram = try socket.receive(timeoutMilliseconds: timeoutMilliseconds)
            var counted = false
            for message in try NetlinkMessage.split(datagram[...]) where message.sequence == mine {
                switch message.type {
                case NetlinkMessage.done:
                    return (replies, parts)
                case NetlinkMessage.error:
                    let errno = try message.errorCode()
                    if errno == 0 { return (replies, parts) }
                    throw Self.readError(errno: errno, what: what())
                case socket.familyID:
                    if !counted {
                        parts += 1
                        counted = true
                    }
                    let (_, body) = try message.genericPayload()
                    replies.append(try NetlinkAttributes(body, context: context ?? what()))
                    if !dump { return (replies, parts) }
                default:
                    throw malformed("unexpected message type \(message.type) in reply to \(what())")
                }
            }
        }
    }

    private static func readError(errno: Int32, what: String) -> IPVSError {
        var error = IPVSError.kernel(errno: errno, operation: nil)
        error.message = "cannot read \(what): " + error.message.replacingPrefix("request: ", with: "")
        if error.code == .notFound { error.message = "\(what) does not exist" }
        return error
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}

/// The outcome of a bulk apply: every failed operation with its error; the rest succeeded.
public struct BulkApplyResult: Sendable {
    public struct Failure: Sendable {
        /// Position of the operation in the applied list.
        public var index: Int
        public var operation: IPVSOperation
        public var error: IPVSError

        public init(index: Int, operation: IPVSOperation, error: IPVSError) {
            self.index = index
            self.operation = operation
            self.error = error
        }
    }

    public var operationCount: Int
    /// Failures in operation order.
    public var failures: [Failure]
    /// How many `sendmsg` calls carried the operations.
    public var sendCalls: Int

    public var succeeded: Bool { failures.isEmpty }

    public init(operationCount: Int, failures: [Failure], sendCalls: Int) {
        self.operationCount = operationCount
        self.failures = failures
        self.sendCalls = sendCalls
    }
}

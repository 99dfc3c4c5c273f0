import DNSCodec
import KubernetesManifests
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The zones being served, replaced whole when the agent's desired state changes; readers take the current
/// value under a lock held only for the copy, so queries never wait on the agent's actor.
final class ServiceZonePublisher: Sendable {
    private struct State {
        var authority = DNSAuthority()
        var serial: UInt32 = 0
    }

    let domain: DNSName
    private let state = Mutex(State())
    private let logger: Logger

    init(domain: DNSName, logger: Logger) {
        self.domain = domain
        self.logger = logger
    }

    var authority: DNSAuthority { state.withLock { $0.authority } }

    /// Builds the zones for `table` and serves them from now on.
    func publish(_ table: ServiceNameTable) {
        let serial = state.withLock { state in
            state.serial &+= 1
            return state.serial
        }
        let built = ServiceZone.authority(table, domain: domain, serial: serial)
        if built.skipped > 0 {
            logger.warning("Services left out of DNS: names too long", metadata: ["services": "\(built.skipped)"])
        }
        state.withLock { $0.authority = built.authority }
    }
}

/// The limits of the DNS listener's TCP side (UDP needs none: one datagram in, at most one out).
public struct DNSListenerLimits: Sendable, Equatable {
    /// TCP connections held at once; one more evicts the oldest.
    public var maxConnections = 64
    /// A TCP connection with no complete query for this long is closed (RFC 7766 6.2.3: seconds, not
    /// minutes).
    public var idleTimeout: Duration = .seconds(5)

    public init() {}

    /// Descriptors the listener holds: the UDP socket, the TCP listening socket and its connections, and one
    /// accepted connection on its way to eviction.
    public var descriptors: Int { maxConnections + 3 }
}

/// Serves DNS over UDP and TCP on one address until graceful shutdown.
struct DNSServer: ServiceLifecycle.Service {
    let settings: DNSSettings
    let publisher: ServiceZonePublisher
    let limits: DNSListenerLimits
    let metrics: DNSMetrics
    let logger: Logger

    /// The two bound sockets.
    struct Channels {
        let udp: any Channel
        let tcp: any Channel

        func close() {
            udp.close(promise: nil)
            tcp.close(promise: nil)
        }
    }

    func run() async throws {
        let channels = try await bind()
        logger.info("dns listening", metadata: ["address": "\(settings.listen)", "domain": "\(settings.domain)"])
        try await withGracefulShutdownHandler {
            try await channels.udp.closeFuture.get()
        } onGracefulShutdown: {
            channels.close()
        }
        channels.close()
    }

    /// Binds UDP and TCP on the listen address.
    /// - Throws: ``AgentError`` naming the address (in use, not permitted, ...).
    func bind() async throws(AgentError) -> Channels {
        let group = MultiThreadedEventLoopGroup.singleton
        do {
            let address = try SocketAddress(ipAddress: settings.listen.host, port: Int(settings.listen.port))
            // IP_FREEBIND: the address (a VIP, a local route and no address, say) may appear after ipvsd starts.
            let freebind = ChannelOptions.Types.SocketOption(
                level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_IP)),
                name: NIOBSDSocket.Option(rawValue: CInt(IP_FREEBIND))
            )
            let publisher = publisher
            let metrics = metrics
            let udp = try await DatagramBootstrap(group: group)
                .channelOption(freebind, value: 1)
                .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            DNSDatagramHandler(publisher: publisher, metrics: metrics)
                        )
                    }
                }
                .bind(to: address).get()
            let limiter = ConnectionLimiter(maxConnections: limits.maxConnections)
            let idle = TimeAmount.nanoseconds(Int64(limits.idleTimeout / .nanoseconds(1)))
            let tcp: any Channel
            do {
                tcp = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .serverChannelOption(freebind, value: 1)
                    .serverChannelOption(.backlog, value: 64)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandlers(
                                IdleStateHandler(readTimeout: idle),
                                ByteToMessageHandler(DNSLengthPrefixDecoder()),
                                DNSStreamHandler(publisher: publisher, limiter: limiter, metrics: metrics)
                            )
                        }
                    }
                    .bind(to: address).get()
            } catch {
                udp.close(promise: nil)
                throw error
            }
            return Channels(udp: udp, tcp: tcp)
        } catch {
            throw AgentError(.listener, "dns listener on \(settings.listen): cannot serve", cause: error)
        }
    }
}

/// One datagram in, at most one out, to its sender.
final class DNSDatagramHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let publisher: ServiceZonePublisher
    let metrics: DNSMetrics

    init(publisher: ServiceZonePublisher, metrics: DNSMetrics) {
        self.publisher = publisher
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let query = Array(envelope.data.readableBytesView)
        let answer = publisher.authority.answer(to: query, transport: .udp)
        metrics.record(.udp, answer?.responseCode)
        guard let answer else { return }
        let buffer = context.channel.allocator.buffer(bytes: answer.bytes)
        context.writeAndFlush(
            wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)),
            promise: nil
        )
    }

    /// A send that fails (an ICMP error for an earlier answer) concerns one client, not the listener.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// RFC 1035 4.2.2: each message on a stream is preceded by its length in two bytes.
struct DNSLengthPrefixDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            buffer.readableBytes >= 2 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        let message = buffer.readBytes(length: Int(length)) ?? []
        context.fireChannelRead(NIOAny(message))
        return .continue
    }
}

/// Answers each framed query on a TCP connection; closes it when idle, and when the client does not read its
/// answers (so unread answers cannot pile up in memory). Registers the connection with the listener's
/// ``ConnectionLimiter`` once it is active (a channel closed before then stays open), closing the oldest one
/// beyond the cap.
final class DNSStreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = [UInt8]
    typealias OutboundOut = ByteBuffer

    let publisher: ServiceZonePublisher
    let limiter: ConnectionLimiter
    let metrics: DNSMetrics

    init(publisher: ServiceZonePublisher, limiter: ConnectionLimiter, metrics: DNSMetrics) {
        self.publisher = publisher
        self.limiter = limiter
        self.metrics = metrics
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        let limiter = limiter
        channel.closeFuture.whenComplete { _ in limiter.remove(channel) }
        if let victim = limiter.admit(channel) { victim.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard context.channel.isWritable else {
            context.close(promise: nil)
            return
        }
        let answer = publisher.authority.answer(to: unwrapInboundIn(data), transport: .tcp)
        metrics.record(.tcp, answer?.responseCode)
        guard let answer else {
            // A response or a runt on a stream: the peer is not a resolver.
            context.close(promise: nil)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: answer.bytes.count + 2)
        buffer.writeInteger(UInt16(answer.bytes.count))
        buffer.writeBytes(answer.bytes)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

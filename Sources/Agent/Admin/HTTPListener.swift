import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A Hummingbird HTTP/1 server held to ``HTTPListenerLimits``: at most `maxConnections` connections (the
/// oldest one without a request in progress is evicted for a new one), an idle timeout that drops
/// half-sent requests, and head and body size limits. A failure to listen is an ``AgentError`` naming
/// the listener.
///
/// What a client can count on while others hold connections open without completing a request: its
/// connection is accepted (evicting the oldest idle one), and its request is served if it sends its
/// request head before `maxConnections` newer connections arrive; otherwise it waits at most
/// `idleTimeout` for the idle ones to be dropped. The listener never holds more than
/// ``HTTPListenerLimits/descriptors`` descriptors.
enum HTTPListener {
    /// - Parameters:
    ///   - name: what the listener is, for errors ("metrics listener").
    ///   - location: where it listens as the config says it, for errors ("127.0.0.1:9750", a path).
    static func service(
        name: String,
        location: String,
        router: Router<BasicRequestContext>,
        address: BindAddress,
        limits: HTTPListenerLimits,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> any Service {
        let limiter = ConnectionLimiter(maxConnections: limits.maxConnections)
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ListenerGuard(limiter: limiter, maxBodyBytes: limits.maxBodyBytes)],
            idleTimeout: .nanoseconds(Int64(limits.idleTimeout / .nanoseconds(1))),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: limits.maxHeadBytes,
                maxHeaderListSize: limits.maxHeadBytes,
                maxHeaderFieldCount: 100
            )
        )
        let application = Application(
            router: router,
            server: .http1(configuration: http1),
            configuration: .init(
                address: address,
                serverName: "ipvsd",
                // Accepting stops at cap + slack, so that evictions lagging behind a burst of connects
                // cannot take the listener past its share of descriptors.
                availableConnectionsDelegate: MaximumAvailableConnections(
                    limits.maxConnections + limits.acceptSlack,
                    logger: logger
                )
            ),
            onServerRunning: onServerRunning,
            logger: logger
        )
        return Listener(name: name, location: location, application: application)
    }

    /// Runs the application; a failure (most often: cannot bind) becomes an error naming the listener.
    private struct Listener<Wrapped: Service>: Service {
        let name: String
        let location: String
        let application: Wrapped

        func run() async throws {
            do {
                try await application.run()
            } catch {
                throw AgentError(.listener, "\(name) on \(location): cannot serve", cause: error)
            }
        }
    }
}

/// Tracks one listener's connections and picks which to close when a new one exceeds the cap: the
/// oldest with no request in progress, else the new one.
final class ConnectionLimiter: Sendable {
    private struct Entry {
        let channel: any Channel
        let order: UInt64
        var requestsInProgress = 0
    }

    private struct State {
        var next: UInt64 = 0
        var entries: [ObjectIdentifier: Entry] = [:]
    }

    let maxConnections: Int
    private let state = Mutex(State())

    init(maxConnections: Int) { self.maxConnections = max(1, maxConnections) }

    /// Connections tracked now.
    var count: Int { state.withLock { $0.entries.count } }

    /// Registers `channel`; returns the connection to close to stay within the cap, if any.
    func admit(_ channel: any Channel) -> (any Channel)? {
        state.withLock { state in
            state.next += 1
            state.entries[ObjectIdentifier(channel)] = Entry(channel: channel, order: state.next)
            guard state.entries.count > maxConnections else { return nil }
            let idle = state.entries.values.filter { $0.requestsInProgress == 0 }
            guard let victim = idle.min(by: { $0.order < $1.order }) else { return channel }
            state.entries[ObjectIdentifier(victim.channel)] = nil
            return victim.channel
        }
    }

    func requestStarted(_ channel: any Channel) {
        state.withLock { $0.entries[ObjectIdentifier(channel)]?.requestsInProgress += 1 }
    }

    func requestFinished(_ channel: any Channel) {
        state.withLock { state in
            let id = ObjectIdentifier(channel)
            if let count = state.entries[id]?.requestsInProgress, count > 0 {
                state.entries[id]?.requestsInProgress = count - 1
            }
        }
    }

    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.entries.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// On each connection: registers it with the ``ConnectionLimiter``, marks requests in progress, and
/// refuses bodies over the limit (413 when Content-Length says so up front, a close when the body
/// outgrows it).
final class ListenerGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limiter: ConnectionLimiter
    private let maxBodyBytes: Int
    private var bodyBytes = 0
    private var refusing = false
    private var admitted = false

    init(limiter: ConnectionLimiter, maxBodyBytes: Int) {
        self.limiter = limiter
        self.maxBodyBytes = maxBodyBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context: context)
        context.fireChannelActive()
    }

    /// Registers the connection once it is active: a channel closed before it is registered stays
    /// open, so neither the new connection nor a victim may be one that is still being set up.
    private func admit(context: ChannelHandlerContext) {
        guard !admitted else { return }
        admitted = true
        let channel = context.channel
        let limiter = limiter
        channel.closeFuture.whenComplete { _ in limiter.remove(channel) }
        if let victim = limiter.admit(channel) { victim.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refusing else { return }
        switch unwrapInboundIn(data) {
        case .head(let request):
            bodyBytes = 0
            let declared = request.headerFields[.contentLength].flatMap { Int($0) } ?? 0
            if declared > maxBodyBytes {
                refuse(context: context)
                return
            }
            limiter.requestStarted(context.channel)
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            if bodyBytes > maxBodyBytes {
                // The head went up already and a response may be under way: only a close is safe.
                refusing = true
                context.close(promise: nil)
                return
            }
        case .end:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { limiter.requestFinished(context.channel) }
        context.write(data, promise: promise)
    }

    /// Answers 413 and closes, without passing the request on.
    private func refuse(context: ChannelHandlerContext) {
        refusing = true
        var fields = HTTPFields()
        fields[.connection] = "close"
        fields[.contentLength] = "0"
        context.write(
            wrapOutboundOut(.head(HTTPResponse(status: .contentTooLarge, headerFields: fields))),
            promise: nil
        )
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}

import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import ServiceTables

extension NIOProber {
    /// One grpc.health.v1.Health/Check call over HTTP/2 with prior knowledge (h2c, no TLS): healthy when the
    /// HTTP status is 200, grpc-status is 0 and the serving status is SERVING.
    func probeGRPC(_ target: HealthTarget, service: String) async -> ProbeResult {
        let headers = Self.grpcRequestHeaders(target)
        let body = GRPCHealthMessage.request(service: service)
        return await attempt(target) { loop, address, promise in
            ClientBootstrap(group: loop)
                .connectTimeout(target.timeout.timeAmount)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        // The server may not open streams towards a client: refuse any it tries.
                        _ = try sync.configureHTTP2Pipeline(
                            mode: .client,
                            connectionConfiguration: .init(),
                            streamConfiguration: .init()
                        ) { stream in stream.close() }
                        try sync.addHandler(GRPCConnectionHandler(promise: promise))
                    }
                }
                .connect(to: address)
                .whenComplete { result in
                    switch result {
                    case .success(let channel):
                        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                        Self.startGRPCCall(on: channel, headers: headers, body: body, promise: promise)
                    case .failure(let error):
                        promise.succeed(describeProbeError(error))
                    }
                }
        }
    }

    /// Opens the one stream of the call; runs on the connection's event loop (the connect callback's).
    private static func startGRPCCall(
        on channel: any Channel,
        headers: HPACKHeaders,
        body: [UInt8],
        promise: EventLoopPromise<String>
    ) {
        do {
            let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
                .syncMultiplexer()
            multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(
                        GRPCCheckHandler(headers: headers, body: body, promise: promise)
                    )
                }
            }.whenFailure { error in
                promise.succeed("http2: \(error)")
            }
        } catch {
            promise.succeed("http2: \(error)")
        }
    }

    static func grpcRequestHeaders(_ target: HealthTarget) -> HPACKHeaders {
        // Tell the server the deadline too, so it does not work on after the probe has given up.
        let milliseconds = min(max(target.timeout.nanoseconds / 1_000_000, 1), 99_999_999)
        return [
            ":method": "POST",
            ":scheme": "http",
            ":path": "/grpc.health.v1.Health/Check",
            ":authority": target.hostAndPort,
            "content-type": "application/grpc",
            "te": "trailers",
            "grpc-timeout": "\(milliseconds)m",
            "user-agent": "ipvsd-health-check",
        ]
    }
}

/// Reports what ends the connection before the call does: a peer that does not speak HTTP/2, a close.
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let promise: EventLoopPromise<String>

    init(promise: EventLoopPromise<String>) {
        self.promise = promise
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.succeed(describeHTTP2Error(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed("connection closed without response")
        context.fireChannelInactive()
    }
}

/// Sends the request on its stream, then judges the response headers, the message and the trailers.
final class GRPCCheckHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// The most of a response body kept; a health response is a few bytes.
    static let maxBodyBytes = 16 * 1024

    private let headers: HPACKHeaders
    private let body: [UInt8]
    private let promise: EventLoopPromise<String>
    private var sent = false
    private var responseHeaders = false
    private var received: [UInt8] = []

    init(headers: HPACKHeaders, body: [UInt8], promise: EventLoopPromise<String>) {
        self.headers = headers
        self.body = body
        self.promise = promise
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { send(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            if !responseHeaders {
                responseHeaders = true
                let status = frame.headers.first(name: ":status") ?? ""
                guard status == "200" else { return finish(context, "status \(status)") }
                // Trailers-only: an error answered in the headers alone.
                if frame.headers.first(name: "grpc-status") != nil || frame.endStream {
                    return finish(context, Self.judge(trailers: frame.headers, body: received))
                }
            } else {
                finish(context, Self.judge(trailers: frame.headers, body: received))
            }
        case .data(let frame):
            guard case .byteBuffer(var buffer) = frame.data else { return }
            let room = Self.maxBodyBytes - received.count
            received += buffer.readBytes(length: min(room, buffer.readableBytes)) ?? []
            if frame.endStream { finish(context, "no grpc-status in the response") }
        case .rstStream(let code):
            finish(context, "stream reset: \(code)")
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(responseHeaders ? "no grpc-status in the response" : "connection closed without response")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(context, describeHTTP2Error(error))
    }

    /// `ok` only for grpc-status 0 with a SERVING message.
    static func judge(trailers: HPACKHeaders, body: [UInt8]) -> String {
        guard let text = trailers.first(name: "grpc-status") else { return "no grpc-status in the response" }
        guard let code = Int(text) else { return "invalid grpc-status \"\(text)\"" }
        switch code {
        case 0:
            do throws(GRPCHealthMessage.DecodeError) {
                return try GRPCHealthMessage.status(fromBody: body).reason
            } catch {
                return error.description
            }
        // NOT_FOUND is how grpc.health.v1 says it has no such service.
        case 5: return "unknown service"
        default: return "grpc-status \(code)"
        }
    }

    private func send(_ context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        let head = HTTP2Frame.FramePayload.headers(.init(headers: headers))
        let data = HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(bytes: body)), endStream: true))
        context.write(wrapOutboundOut(head), promise: nil)
        context.writeAndFlush(wrapOutboundOut(data)).whenFailure { [promise] error in
            promise.succeed(describeProbeError(error))
        }
    }

    private func finish(_ context: ChannelHandlerContext, _ reason: String) {
        promise.succeed(reason)
        context.close(promise: nil)
    }
}

/// A protocol error from a peer that does not speak HTTP/2 (an HTTP/1 server) says so; others as sockets do.
func describeHTTP2Error(_ error: any Error) -> String {
    error is any NIOHTTP2Error ? "invalid HTTP/2 response: \(error)" : describeProbeError(error)
}

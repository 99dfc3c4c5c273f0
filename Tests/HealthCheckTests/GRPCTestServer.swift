import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import Synchronization

/// A local grpc.health.v1 server over h2c, written against the wire format by hand so it does not share
/// the probe's encoder: it answers each requested service name with a configured serving status.
struct GRPCTestServer {
    enum Behaviour: Sendable {
        /// Known names answer with their serving status (1 SERVING, 2 NOT_SERVING); others get NOT_FOUND.
        case health([String: UInt8])
        /// Trailers-only answer with this grpc-status, as a server without the health service does (12).
        case grpcStatus(Int)
        /// An HTTP status other than 200, as a proxy in front of the server might answer.
        case httpStatus(Int)
        /// Reads the request and never answers.
        case silent
    }

    let channel: any Channel
    let port: UInt16
    let log: GRPCRequestLog

    func close() async throws { try await channel.close() }

    static func start(host: String = "127.0.0.1", _ behaviour: Behaviour) async throws -> GRPCTestServer {
        let log = GRPCRequestLog()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .server,
                        connectionConfiguration: .init(),
                        streamConfiguration: .init()
                    ) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(
                                GRPCHealthResponder(behaviour: behaviour, log: log)
                            )
                        }
                    }
                }
            }
            .bind(host: host, port: 0).get()
        return GRPCTestServer(channel: channel, port: UInt16(channel.localAddress?.port ?? 0), log: log)
    }
}

/// What the server was asked: the last request's headers and service name.
final class GRPCRequestLog: Sendable {
    let headers = Mutex<HPACKHeaders?>(nil)
    let service = Mutex<String?>(nil)
}

final class GRPCHealthResponder: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    let behaviour: GRPCTestServer.Behaviour
    let log: GRPCRequestLog
    private var body: [UInt8] = []

    init(behaviour: GRPCTestServer.Behaviour, log: GRPCRequestLog) {
        self.behaviour = behaviour
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            log.headers.withLock { $0 = frame.headers }
            if frame.endStream { respond(context) }
        case .data(let frame):
            if case .byteBuffer(var buffer) = frame.data { body += buffer.readBytes(length: buffer.readableBytes)! }
            if frame.endStream { respond(context) }
        default:
            break
        }
    }

    private func respond(_ context: ChannelHandlerContext) {
        let service = Self.serviceName(body)
        log.service.withLock { $0 = service }
        switch behaviour {
        case .silent:
            return
        case .httpStatus(let status):
            write(context, [":status": "\(status)"], endStream: true)
        case .grpcStatus(let code):
            write(
                context,
                [":status": "200", "content-type": "application/grpc", "grpc-status": "\(code)"],
                endStream: true
            )
        case .health(let statuses):
            guard let service, let status = statuses[service] else {
                // NOT_FOUND, trailers-only: how grpc.health.v1 servers answer an unknown service.
                let headers: HPACKHeaders = [":status": "200", "content-type": "application/grpc", "grpc-status": "5"]
                return write(context, headers, endStream: true)
            }
            write(context, [":status": "200", "content-type": "application/grpc"], endStream: false)
            // Flag 0, length 2, then field 1 varint (0x08) with the status.
            let message: [UInt8] = [0, 0, 0, 0, 2, 0x08, status]
            let data = HTTP2Frame.FramePayload.Data(data: .byteBuffer(ByteBuffer(bytes: message)))
            context.write(wrapOutboundOut(.data(data)), promise: nil)
            write(context, ["grpc-status": "0"], endStream: true)
        }
    }

    private func write(_ context: ChannelHandlerContext, _ headers: HPACKHeaders, endStream: Bool) {
        let frame = HTTP2Frame.FramePayload.headers(.init(headers: headers, endStream: endStream))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    /// The `service` field of a length-prefixed HealthCheckRequest; nil when the bytes are not one.
    static func serviceName(_ body: [UInt8]) -> String? {
        guard body.count >= 5, body[0] == 0 else { return nil }
        let message = Array(body.dropFirst(5))
        if message.isEmpty { return "" }
        // Tag 0x0A, then a one-byte length: the names the tests use are short.
        guard message.count >= 2, message[0] == 0x0A, Int(message[1]) == message.count - 2 else { return nil }
        return String(decoding: message.dropFirst(2), as: UTF8.self)
    }
}

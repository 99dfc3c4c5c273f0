import IPVS
import LoadBalancer
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Local listeners the probe tests run against, each on an ephemeral port.
struct TestServer {
    let channel: any Channel
    var port: UInt16 { UInt16(channel.localAddress!.port!) }

    func close() async throws { try await channel.close() }

    /// Accepts TCP connections and, unless `respond` is false, answers HTTP requests.
    static func http(
        host: String = "127.0.0.1", status: HTTPResponseStatus = .ok, body: String = "", respond: Bool = true,
        tls: Bool = false, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TestServer {
        let sslContext = try tls ? NIOSSLContext(configuration: serverTLS()) : nil
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext { try sync.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    guard respond else { return }
                    try sync.configureHTTPServerPipeline()
                    try sync.addHandler(FixedResponder(status: status, body: body))
                }
            }
            .bind(host: host, port: 0).get()
        return TestServer(channel: channel)
    }

    /// Replies to every datagram with its own bytes (or stays silent).
    static func udp(host: String = "127.0.0.1", echo: Bool = true) async throws -> TestServer {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if echo { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
                }
            }
            .bind(host: host, port: 0).get()
        return TestServer(channel: channel)
    }

    /// A port nothing listens on: bound, then closed.
    static func closedPort(host: String = "127.0.0.1") async throws -> UInt16 {
        let server = try await http(host: host)
        let port = server.port
        try await server.close()
        return port
    }

    private static func serverTLS() throws -> TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(TestCertificate.certificatePEM.utf8))
                .map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(TestCertificate.privateKeyPEM.utf8), format: .pem))
        )
    }
}

/// Answers every request with one status and body, then closes (the client asked `Connection: close`).
final class FixedResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let status: HTTPResponseStatus
    let body: String
    /// The last request head, for tests that check what the prober sent.
    static let lastHead = Mutex<HTTPRequestHead?>(nil)

    init(status: HTTPResponseStatus, body: String) {
        self.status = status
        self.body = body
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            Self.lastHead.withLock { $0 = head }
        case .body:
            break
        case .end:
            var head = HTTPResponseHead(version: .http1_1, status: status)
            head.headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            head.headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [context] _ in
                context.close(promise: nil)
            }
        }
    }
}

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: envelope.data)), promise: nil)
    }
}

/// A target for `kind` at `host:port`, with a short timeout so failing tests end quickly.
func target(
    _ kind: HealthCheckSpec.Kind, _ host: String = "127.0.0.1", _ port: UInt16, timeout: Duration = .seconds(2)
) -> HealthTarget {
    let spec = HealthCheckSpec(kind: kind, timeout: timeout)
    return HealthTarget(realServer: RealServer.ID(address: IPAddress(host)!, port: port), spec: spec)
}

import IPVS
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceTables
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Local listeners the probe tests run against, each on an ephemeral port.
struct TestServer {
    let channel: any Channel
    let port: UInt16
    let requests: RequestLog

    init(channel: any Channel, requests: RequestLog = RequestLog()) {
        self.channel = channel
        self.port = UInt16(channel.localAddress?.port ?? 0)
        self.requests = requests
    }

    /// The last request head the server read.
    var lastHead: HTTPRequestHead? { requests.head.withLock { $0 } }

    func close() async throws { try await channel.close() }

    /// Accepts TCP connections and, unless `respond` is false, answers HTTP requests.
    static func http(
        host: String = "127.0.0.1",
        status: HTTPResponseStatus = .ok,
        body: String = "",
        respond: Bool = true,
        tls: Bool = false,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TestServer {
        let sslContext = try tls ? NIOSSLContext(configuration: serverTLS()) : nil
        let requests = RequestLog()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext { try sync.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    guard respond else { return }
                    try sync.configureHTTPServerPipeline()
                    try sync.addHandler(FixedResponder(status: status, body: body, requests: requests))
                }
            }
            .bind(host: host, port: 0).get()
        return TestServer(channel: channel, requests: requests)
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

    private static func serverTLS() throws -> TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(TestCertificate.certificatePEM.utf8))
                .map { .certificate($0) },
            privateKey: .privateKey(
                try NIOSSLPrivateKey(bytes: Array(TestCertificate.privateKeyPEM.utf8), format: .pem)
            )
        )
    }
}

/// Answers every request with one status and body, then closes (the client asked `Connection: close`).
final class FixedResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let status: HTTPResponseStatus
    let body: String
    let requests: RequestLog

    init(status: HTTPResponseStatus, body: String, requests: RequestLog) {
        self.status = status
        self.body = body
        self.requests = requests
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            requests.head.withLock { $0 = head }
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

/// What a test server was asked.
final class RequestLog: Sendable {
    let head = Mutex<HTTPRequestHead?>(nil)
}

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        context.writeAndFlush(
            wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: envelope.data)),
            promise: nil
        )
    }
}

/// A target for `kind` at `host:port`, with a short timeout so failing tests end quickly.
func target(
    _ kind: HealthCheckSpec.Kind,
    _ host: String = "127.0.0.1",
    _ port: UInt16,
    timeout: Duration = .seconds(2)
) -> HealthTarget {
    let spec = HealthCheckSpec(kind: kind, timeout: timeout)
    return HealthTarget(realServer: RealServer.ID(address: IPAddress(host)!, port: port), spec: spec)
}

/// A TCP port bound but never listening: connections to it are refused, and while it is held no parallel
/// test's listener can take it.
final class ClosedPort {
    let port: UInt16
    private let descriptor: CInt

    init(host: String = "127.0.0.1") throws {
        let address = try SocketAddress(ipAddress: host, port: 0)
        let family = host.contains(":") ? AF_INET6 : AF_INET
        let descriptor = socket(family, CInt(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        let bound = address.withSockAddr { bind(descriptor, $0, socklen_t($1)) }
        guard bound == 0 else { throw IOError(errnoCode: errno, reason: "bind") }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        // sin_port and sin6_port both sit at offset 2, in network byte order.
        port = withUnsafeBytes(of: storage) { UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) }
    }

    deinit { close(descriptor) }
}

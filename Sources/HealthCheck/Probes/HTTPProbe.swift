import IPVS
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceTables

extension NIOProber {
    /// The most of a body read while looking for `bodyContains`.
    static let maxBodyBytes = 64 * 1024

    /// One GET with `Connection: close`: healthy when the status is in range and the body (first 64 KiB)
    /// contains the expected text. Over TLS, certificates are not verified.
    func probeHTTP(_ target: HealthTarget, _ http: HealthCheckSpec.HTTPProbe, tls: Bool) async -> ProbeResult {
        let head = Self.requestHead(target, http, tls: tls)
        let serverName = tls ? Self.serverName(http.host) : nil
        return await attempt(target) { loop, address, promise in
            ClientBootstrap(group: loop)
                .connectTimeout(target.timeout.timeAmount)
                .channelInitializer { channel in
                    do {
                        let sync = channel.pipeline.syncOperations
                        if tls {
                            let context = try TLSClient.context.get()
                            try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                        }
                        try sync.addHTTPClientHandlers()
                        try sync.addHandler(
                            HTTPCheckHandler(
                                head: head,
                                expectedStatus: http.expectedStatus,
                                bodyContains: http.bodyContains,
                                promise: promise
                            )
                        )
                        return channel.eventLoop.makeSucceededVoidFuture()
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                }
                .connect(to: address)
                .whenComplete { result in
                    switch result {
                    case .success(let channel):
                        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                    case .failure(let error):
                        promise.succeed(describeProbeError(error))
                    }
                }
        }
    }

    static func requestHead(_ target: HealthTarget, _ http: HealthCheckSpec.HTTPProbe, tls: Bool) -> HTTPRequestHead {
        let defaultPort: UInt16 = tls ? 443 : 80
        let address = target.address.family == .inet6 ? "[\(target.address)]" : "\(target.address)"
        let host = http.host ?? (target.port == defaultPort ? address : "\(address):\(target.port)")
        let path = http.path.isEmpty ? "/" : http.path
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "User-Agent", value: "ipvsd-health-check")
        head.headers.add(name: "Accept", value: "*/*")
        head.headers.add(name: "Connection", value: "close")
        return head
    }

    /// The TLS server name: only a DNS name, never an IP literal (SNI does not carry addresses).
    static func serverName(_ host: String?) -> String? {
        guard var name = host, !name.isEmpty, !name.hasPrefix("[") else { return nil }
        if let colon = name.lastIndex(of: ":"), name.firstIndex(of: ":") == colon {
            name = String(name[..<colon])
        }
        return IPAddress(name) == nil ? name : nil
    }
}

/// The TLS configuration every HTTPS check shares: no certificate verification.
enum TLSClient {
    static let context: Result<NIOSSLContext, any Error> = Result {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return try NIOSSLContext(configuration: configuration)
    }
}

/// Sends the request, then judges the status line and, if asked, the first 64 KiB of the body.
final class HTTPCheckHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let head: HTTPRequestHead
    private let expectedStatus: ClosedRange<Int>
    private let needle: [UInt8]?
    private let bodyContains: String?
    private let promise: EventLoopPromise<String>
    private var status: Int?
    private var body: [UInt8] = []
    private var searchedUpTo = 0

    init(
        head: HTTPRequestHead,
        expectedStatus: ClosedRange<Int>,
        bodyContains: String?,
        promise: EventLoopPromise<String>
    ) {
        self.head = head
        self.expectedStatus = expectedStatus
        self.bodyContains = bodyContains
        self.needle = bodyContains.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response):
            let code = Int(response.status.code)
            status = code
            if !expectedStatus.contains(code) {
                finish(context, "status \(code)")
            } else if needle == nil {
                finish(context, "ok")
            }
        case .body(var buffer):
            guard let needle, body.count < NIOProber.maxBodyBytes else { return }
            let room = NIOProber.maxBodyBytes - body.count
            body += buffer.readBytes(length: min(room, buffer.readableBytes)) ?? []
            if containsNeedle(needle) {
                finish(context, "ok")
            } else if body.count >= NIOProber.maxBodyBytes {
                finish(context, bodyMismatch)
            }
        case .end:
            finish(context, status == nil ? "no response" : bodyMismatch)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(status == nil ? "connection closed without response" : bodyMismatch)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reason: String
        switch error {
        case is NIOSSLError, is BoringSSLError: reason = "tls: \(error)"
        case is HTTPParserError: reason = "invalid HTTP response: \(error)"
        default: reason = describeProbeError(error)
        }
        finish(context, reason)
    }

    private var bodyMismatch: String { "body does not contain \"\(bodyContains ?? "")\"" }

    /// Searches only the bytes not yet searched (plus an overlap), so a body read in pieces stays linear.
    private func containsNeedle(_ needle: [UInt8]) -> Bool {
        let start = max(0, searchedUpTo - needle.count + 1)
        searchedUpTo = body.count
        guard body.count - start >= needle.count else { return false }
        for offset in start...(body.count - needle.count) where body[offset] == needle[0] {
            if body[offset..<offset + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }

    private func finish(_ context: ChannelHandlerContext, _ reason: String) {
        promise.succeed(reason)
        context.close(promise: nil)
    }
}

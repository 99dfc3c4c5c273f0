import HealthCheck
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceTables
import Testing

@Suite("Socket probes against local listeners")
struct SocketProbeTests {
    let prober = NIOProber(group: MultiThreadedEventLoopGroup.singleton)

    @Test(arguments: ["127.0.0.1", "::1"])
    func tcpConnectSucceeds(host: String) async throws {
        let server = try await TestServer.http(host: host, respond: false)
        let result = await prober.probe(target(.tcp, host, server.port))
        try await server.close()
        #expect(result.success)
        #expect(result.reason == "ok")
        #expect(result.latency > .zero)
    }

    @Test(arguments: ["127.0.0.1", "::1"])
    func tcpClosedPortIsRefused(host: String) async throws {
        let closed = try ClosedPort(host: host)
        let result = await prober.probe(target(.tcp, host, closed.port))
        #expect(!result.success)
        #expect(result.reason == "connection refused")
    }

    @Test(arguments: ["127.0.0.1", "::1"])
    func httpOK(host: String) async throws {
        let server = try await TestServer.http(host: host, body: "hello")
        let result = await prober.probe(target(.http(.init(path: "/healthz")), host, server.port))
        try await server.close()
        #expect(result == .ok(latency: result.latency))
        let head = try #require(server.lastHead)
        #expect(head.uri == "/healthz")
        #expect(head.headers["Connection"] == ["close"])
        let expectedHost = host.contains(":") ? "[\(host)]:\(server.port)" : "\(host):\(server.port)"
        #expect(head.headers["Host"] == [expectedHost])
    }

    @Test func httpExplicitHostHeader() async throws {
        let server = try await TestServer.http()
        let result = await prober.probe(target(.http(.init(host: "shop.example")), "127.0.0.1", server.port))
        try await server.close()
        #expect(result.success)
        #expect(server.lastHead?.headers["Host"] == ["shop.example"])
    }

    @Test func http503Fails() async throws {
        let server = try await TestServer.http(status: .serviceUnavailable)
        let result = await prober.probe(target(.http(.init()), "127.0.0.1", server.port))
        try await server.close()
        #expect(!result.success)
        #expect(result.reason == "status 503")
    }

    @Test func httpExpectedStatusRange() async throws {
        let server = try await TestServer.http(status: .notFound)
        let accepting = target(.http(.init(expectedStatus: 200...404)), "127.0.0.1", server.port)
        let rejecting = target(.http(.init(expectedStatus: 200...299)), "127.0.0.1", server.port)
        let accepted = await prober.probe(accepting)
        let rejected = await prober.probe(rejecting)
        try await server.close()
        #expect(accepted.success)
        #expect(rejected.reason == "status 404")
    }

    @Test func httpBodyMatch() async throws {
        let server = try await TestServer.http(body: "status: ready\n")
        let matching = await prober.probe(target(.http(.init(bodyContains: "ready")), "127.0.0.1", server.port))
        let missing = await prober.probe(target(.http(.init(bodyContains: "healthy")), "127.0.0.1", server.port))
        try await server.close()
        #expect(matching.success)
        #expect(!missing.success)
        #expect(missing.reason == "body does not contain \"healthy\"")
    }

    @Test func httpSilentServerTimesOut() async throws {
        let server = try await TestServer.http(respond: false)
        let result = await prober.probe(target(.http(.init()), "127.0.0.1", server.port, timeout: .milliseconds(200)))
        try await server.close()
        #expect(!result.success)
        #expect(result.reason == "timeout")
    }

    @Test func httpClosedPortIsRefused() async throws {
        let closed = try ClosedPort()
        let result = await prober.probe(target(.http(.init()), "127.0.0.1", closed.port))
        #expect(result.reason == "connection refused")
    }

    @Test(arguments: ["127.0.0.1", "::1"])
    func httpsWithSelfSignedCertificate(host: String) async throws {
        let server = try await TestServer.http(host: host, body: "secure ok", tls: true)
        let named = await prober.probe(
            target(.https(.init(host: "localhost", bodyContains: "secure")), host, server.port)
        )
        let byAddress = await prober.probe(target(.https(.init()), host, server.port))
        try await server.close()
        #expect(named.reason == "ok")
        #expect(byAddress.reason == "ok")
    }

    @Test func httpsStatusIsChecked() async throws {
        let server = try await TestServer.http(status: .serviceUnavailable, tls: true)
        let result = await prober.probe(target(.https(.init()), "127.0.0.1", server.port))
        try await server.close()
        #expect(result.reason == "status 503")
    }

    @Test func httpsAgainstPlainServerFails() async throws {
        let server = try await TestServer.http()
        let result = await prober.probe(target(.https(.init()), "127.0.0.1", server.port))
        try await server.close()
        #expect(!result.success)
        #expect(result.reason != "timeout")
    }

    @Test(arguments: ["127.0.0.1", "::1"])
    func udpEchoReplies(host: String) async throws {
        let server = try await TestServer.udp(host: host)
        let any = await prober.probe(target(.udp(payload: Array("ping".utf8), expect: nil), host, server.port))
        let expected = await prober.probe(
            target(.udp(payload: Array("ping pong".utf8), expect: Array("pong".utf8)), host, server.port)
        )
        let wrong = await prober.probe(
            target(
                .udp(payload: Array("ping".utf8), expect: Array("pong".utf8)),
                host,
                server.port,
                timeout: .milliseconds(200)
            )
        )
        try await server.close()
        #expect(any.reason == "ok")
        #expect(expected.reason == "ok")
        #expect(wrong.reason == "reply does not contain the expected bytes")
    }

    @Test func udpSilentServerIsNoReply() async throws {
        let server = try await TestServer.udp(echo: false)
        let result = await prober.probe(
            target(.udp(payload: [1], expect: nil), "127.0.0.1", server.port, timeout: .milliseconds(200))
        )
        try await server.close()
        #expect(!result.success)
        #expect(result.reason == "no reply")
    }

    @Test func udpClosedPortIsRefused() async throws {
        let server = try await TestServer.udp()
        let port = server.port
        try await server.close()
        // The kernel's ICMP port unreachable is occasionally lost (rate limits); one of three must arrive.
        var reasons: [String] = []
        for _ in 0..<3 where !reasons.contains("connection refused") {
            let closed = target(.udp(payload: [1], expect: nil), "127.0.0.1", port, timeout: .milliseconds(500))
            reasons.append(await prober.probe(closed).reason)
        }
        #expect(reasons.contains("connection refused"))
        #expect(reasons.allSatisfy { $0 == "connection refused" || $0 == "no reply" })
    }
}

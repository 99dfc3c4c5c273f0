import AgentAPI
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing

@testable import Agent

/// The HTTP listeners against a local user holding connections open with half-sent requests (issue 10,
/// item 1): the connection cap, the idle timeout and the size limits, on the real Hummingbird servers.
@Suite struct ListenerLimitsTests {
    /// A half-sent request: a request line and one header, never the blank line that ends the head.
    static let halfSent = "GET /healthz HTTP/1.1\r\nHost: attacker\r\n"

    /// Runs `service` until `body` returns; `body` starts once the server listens.
    func withRunning(
        _ makeService: (@escaping @Sendable (any Channel) async -> Void) throws -> any Service,
        _ body: () async throws -> Void
    ) async throws {
        let (running, continuation) = AsyncStream<Void>.makeStream()
        let service = try makeService { _ in continuation.yield() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The stream ends with the service, so a listener that fails to start (its port taken meanwhile)
            // ends the wait below with its error instead of leaving the test waiting forever.
            group.addTask {
                defer { continuation.finish() }
                try await service.run()
            }
            var iterator = running.makeAsyncIterator()
            guard await iterator.next() != nil else {
                try await group.waitForAll()
                Issue.record("the listener stopped before it was running")
                return
            }
            try await body()
            group.cancelAll()
        }
    }

    func metricsServer(
        _ sandbox: AgentSandbox,
        port: Int,
        limits: HTTPListenerLimits
    ) -> (@escaping @Sendable (any Channel) async -> Void) throws -> any Service {
        { running in
            try MetricsServer.application(
                agent: try sandbox.makeAgent(),
                metrics: AgentMetrics(),
                address: "127.0.0.1:\(port)",
                limits: limits,
                logger: Logger(label: "listener-tests") { _ in SwiftLogNoOpLogHandler() },
                onServerRunning: running
            )
        }
    }

    /// `count` connections each holding a half-sent request, opened off the concurrency pool: a blocking connect
    /// waits for the server's accept, which runs on that pool.
    static func attack(
        count: Int,
        _ connect: @escaping @Sendable () throws -> RawSocket
    ) async throws -> [RawSocket] {
        try await offThePool {
            try (0..<count).map { _ in
                let socket = try connect()
                try socket.send(halfSent)
                return socket
            }
        }
    }

    @Test func connectionsBeyondTheCapEvictTheIdleOnesAndHealthzStillAnswers() async throws {
        let sandbox = try AgentSandbox(examples: false)
        var limits = HTTPListenerLimits.metrics
        limits.idleTimeout = .seconds(3600)  // only the cap may close connections here
        let port = try freeLocalPort()
        let extra = 20
        try await withRunning(metricsServer(sandbox, port: port, limits: limits)) {
            let attack = try await Self.attack(count: limits.maxConnections + extra) { try RawSocket(port: port) }
            let closed = await waitForClosed(attack, atLeast: extra)
            #expect(closed >= extra, "the server should hold at most \(limits.maxConnections) connections")

            // The attack connections stay open (those the cap kept): a normal request still gets through.
            let response = try await exchange(
                port: port,
                "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
            )
            #expect(response.hasPrefix("HTTP/1.1 200"), "\(response)")
            #expect(response.hasSuffix("ok\n"))
            #expect(attack.count(where: { !$0.isClosedByPeer }) >= limits.maxConnections - 1)
        }
    }

    @Test func halfSentRequestsAreDroppedAfterTheIdleTimeout() async throws {
        let sandbox = try AgentSandbox(examples: false)
        var limits = HTTPListenerLimits.metrics
        limits.idleTimeout = .milliseconds(300)
        let port = try freeLocalPort()
        try await withRunning(metricsServer(sandbox, port: port, limits: limits)) {
            let attack = try await Self.attack(count: 5) { try RawSocket(port: port) }
            #expect(await waitForClosed(attack, atLeast: attack.count) == attack.count)
        }
    }

    @Test func aBodyOverTheLimitIsRefused() async throws {
        let sandbox = try AgentSandbox(examples: false)
        let port = try freeLocalPort()
        try await withRunning(metricsServer(sandbox, port: port, limits: .metrics)) {
            let response = try await exchange(
                port: port,
                "POST /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000\r\n\r\n"
            )
            #expect(response.hasPrefix("HTTP/1.1 413"), "\(response)")
        }
    }

    @Test func aHeadOverTheLimitIsRefused() async throws {
        let sandbox = try AgentSandbox(examples: false)
        let port = try freeLocalPort()
        let limits = HTTPListenerLimits.metrics
        try await withRunning(metricsServer(sandbox, port: port, limits: limits)) {
            let padding = String(repeating: "a", count: limits.maxHeadBytes + 1)
            let response = try await exchange(
                port: port,
                "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Padding: \(padding)\r\n\r\n",
                sendMayFail: true
            )
            #expect(!response.hasPrefix("HTTP/1.1 200"), "\(response)")
        }
    }

    @Test func aListenerThatCannotBindIsAnErrorNamingIt() async throws {
        let sandbox = try AgentSandbox(examples: false)
        let port = try freeLocalPort()
        try await withRunning(metricsServer(sandbox, port: port, limits: .metrics)) {
            let second = try metricsServer(sandbox, port: port, limits: .metrics)({ _ in })
            let error = await #expect(throws: AgentError.self) { try await second.run() }
            #expect(error?.description.contains("metrics listener on 127.0.0.1:\(port): cannot serve:") == true)
        }
    }

    @Test func theAdminSocketKeepsAnsweringUnderTheSameAttack() async throws {
        let sandbox = try AgentSandbox(examples: false)
        let path = sandbox.root + "/run/admin.sock"
        var limits = HTTPListenerLimits.admin
        limits.idleTimeout = .seconds(3600)
        let make: (@escaping @Sendable (any Channel) async -> Void) throws -> any Service = { running in
            try AdminServer.application(
                agent: try sandbox.makeAgent(),
                path: path,
                limits: limits,
                logger: Logger(label: "listener-tests") { _ in SwiftLogNoOpLogHandler() },
                onServerRunning: running
            )
        }
        try await withRunning(make) {
            let attack = try await Self.attack(count: limits.maxConnections + 10) { try RawSocket(path: path) }
            #expect(await waitForClosed(attack, atLeast: 10) >= 10)
            let status = try await offThePool {
                try AdminSocketClient(path: path, timeoutSeconds: 60).get(AgentStatus.self, AdminPath.status)
            }
            #expect(status.version == Agent.version)

            let refused = try await offThePool {
                let body = try RawSocket(path: path)
                try body.send("POST /v1/sync HTTP/1.1\r\nHost: ipvsd\r\nContent-Length: 10\r\n\r\n0123456789")
                return body.readAll()
            }
            #expect(refused.hasPrefix("HTTP/1.1 413"))

            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
        }
    }
}

import Foundation
import KubernetesStandIn
import Synchronization
import Testing

/// Checks the stand-in API server with a real client: kubectl (client-go inside). `get --chunk-size` pages a
/// list through continue tokens; `get --watch` lists then watches; `wait --for=delete` runs client-go's
/// informer (list, watch with bookmarks, resume, relist after an ERROR 410).
@Suite(.serialized) struct KubectlStandInTests {
    static let kubectl = "/usr/bin/kubectl"

    let server: StandInAPIServer
    let kubeconfig: String
    let cache: String

    init() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.kubectl) else {
            throw StandInError(
                "kubectl is not installed at \(Self.kubectl): these tests check the stand-in API server against it "
                    + "(shared/kubernetes-api.md says how the machines get it)"
            )
        }
        server = try await StandInAPIServer(pki: try StandInPKI.make())
        kubeconfig = try server.writeKubeconfig(token: "kubectl-token")
        server.requireToken("kubectl-token")
        cache = server.pki.directory + "/kubectl-cache-\(server.port)"
        for index in 1...5 {
            server.apply(
                .services,
                StandInObjects.service("s\(index)", namespace: "ns\(index % 2)", clusterIP: "10.96.9.\(index)")
            )
        }
    }

    func arguments(_ rest: [String]) -> [String] {
        ["--kubeconfig", kubeconfig, "--cache-dir", cache, "--request-timeout", "60s"] + rest
    }

    @Test func chunkedListFollowsContinueTokens() async throws {
        let child = try Child(Self.kubectl, arguments(["get", "svc", "-A", "--chunk-size=2", "-o", "name"]))
        let result = try await child.finish()
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.split(separator: "\n").sorted() == (1...5).map { "service/s\($0)" })
        let lists = server.requests.filter { $0.resource == .services && $0.isList }
        #expect(lists.count == 3, "\(lists)")
        #expect(lists.allSatisfy { $0.query["limit"] == "2" })
        #expect(lists.dropFirst().allSatisfy { $0.query["continue"]?.isEmpty == false })
        await server.shutdown()
    }

    @Test func getWatchSeesAChangeAfterItsList() async throws {
        let child = try Child(Self.kubectl, arguments(["get", "svc", "-A", "--watch", "-o", "name"]))
        try await child.waitForOutput { $0.contains("service/s5") }
        try await until("kubectl watches") { server.openWatches == 1 }
        server.apply(.services, StandInObjects.service("late", namespace: "ns1", clusterIP: "10.96.9.99"))
        try await child.waitForOutput { $0.contains("service/late") }
        let watch = try #require(server.requests.first { $0.resource == .services && $0.isWatch })
        let list = try #require(server.requests.first { $0.resource == .services && $0.isList })
        #expect(watch.query["resourceVersion"]?.hasPrefix("rv-") == true, "\(watch)")
        #expect(list.query["watch"] == nil)
        child.stop()
        await server.shutdown()
    }

    @Test func waitRunsTheInformerThroughACutAndAGone() async throws {
        let child = try Child(
            Self.kubectl,
            arguments(["wait", "--for=delete", "service/s2", "-n", "ns0", "--timeout=120s"])
        )
        try await until("the informer watches") { server.openWatches == 1 }
        // A cut connection: client-go resumes from the last resourceVersion, without a list.
        let listsBefore = listCount
        server.dropWatches(midEvent: true)
        try await until("the informer watches again") { server.openWatches == 1 && watchCount == 2 }
        // Expired history: the resumed watch gets ERROR 410 and client-go lists again.
        server.compact()
        server.dropWatches()
        try await until("the informer relisted and watches") { listCount > listsBefore && server.openWatches == 1 }
        server.delete(.services, namespace: "ns0", name: "s2")
        let result = try await child.finish()
        #expect(result.status == 0, "\(result.output)")
        #expect(
            result.output.contains("service/s2 condition met") || result.output.contains("deleted"),
            "\(result.output)"
        )
        let watches = server.requests.filter { $0.resource == .services && $0.isWatch }
        #expect(watches.allSatisfy { $0.query["allowWatchBookmarks"] == "true" }, "\(watches)")
        await server.shutdown()
    }

    private var listCount: Int { server.requests.filter { $0.resource == .services && $0.isList }.count }
    private var watchCount: Int { server.requests.filter { $0.resource == .services && $0.isWatch }.count }

    private func until(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting until \(what); requests: \(server.requests)")
        throw StandInError("timed out waiting until \(what)")
    }
}

/// A child process whose combined output is read as it comes.
final class Child: Sendable {
    private final class Shared: Sendable {
        let output = Mutex("")
        let done = Mutex(false)
    }
    private let process: Process
    private let shared = Shared()

    init(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        self.process = process
        try process.run()
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [shared] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                shared.output.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
            shared.done.withLock { $0 = true }
        }
    }

    var text: String { shared.output.withLock { $0 } }

    func waitForOutput(_ condition: (String) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if condition(text) { return }
            if shared.done.withLock({ $0 }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("kubectl never printed what was expected; it printed:\n\(text)")
        throw StandInError("kubectl output")
    }

    func finish() async throws -> (status: Int32, output: String) {
        let deadline = ContinuousClock.now + .seconds(120)
        while process.isRunning || !shared.done.withLock({ $0 }) {
            guard ContinuousClock.now < deadline else {
                stop()
                throw StandInError("kubectl did not exit; it printed:\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (process.terminationStatus, text)
    }

    func stop() {
        if process.isRunning { process.terminate() }
    }
}

import AgentAPI
import Foundation
import IPVS
import KubernetesManifests
import Testing

@testable import Agent

/// A reload after an edit re-parses only the changed files and changes only what the edit changes; bad
/// edits keep the whole last good state (docs/ipvsd.md, "Reloads").
@Suite struct IncrementalReloadTests {
    /// Service `ns<file>/svc<index>` on 10.96.<file>.<index>:80, its one slice with `endpoints` (last octets
    /// of 10.244.<file>.x) on 8080.
    static func service(file: Int, index: Int, endpoints: [Int], sliceFor: Int? = nil) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: svc\(index), namespace: ns\(file)}
        spec:
          clusterIP: 10.96.\(file).\(index)
          ports:
          - {name: http, port: 80, targetPort: 8080}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: svc\(index)-a, namespace: ns\(file), labels: {kubernetes.io/service-name: svc\(sliceFor ?? index)}}
        addressType: IPv4
        ports:
        - {name: http, protocol: TCP, port: 8080}
        endpoints:
        \(endpoints.map { "- addresses: [10.244.\(file).\($0)]\n  conditions: {ready: true}" }.joined(separator: "\n"))

        """
    }

    static func file(_ file: Int, endpoints: [Int] = [1, 2], sliceFor: [Int: Int] = [:]) -> String {
        (1...2).map { service(file: file, index: $0, endpoints: endpoints, sliceFor: sliceFor[$0]) }
            .joined(separator: "---\n")
    }

    static let files = 1...5

    /// Five files of two Services each, loaded; the clock and file times past the racy window.
    private func loaded() async throws -> (AgentSandbox, Agent, ContinuousClock.Instant) {
        let sandbox = try AgentSandbox(examples: false)
        for file in Self.files { try sandbox.write(Self.file(file), to: path(sandbox, file)) }
        try settle()
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        #expect(sandbox.kernel.entries.count == 10)
        #expect(await agent.manifestFilesParsed == 5)
        sandbox.kernel.clearLog()
        return (sandbox, agent, t0)
    }

    private func path(_ sandbox: AgentSandbox, _ file: Int) -> String { "\(sandbox.manifests)/file\(file).yaml" }

    /// Files written within ``ManifestStore/racyWindow`` are read again by the next scan: let them settle.
    private func settle() throws { usleep(UInt32(2 * ManifestStore.racyWindow / 1000)) }

    private func reload(_ agent: Agent, at now: ContinuousClock.Instant) async {
        await agent.requestReload(at: now - .milliseconds(500))
        await agent.tick(now: now)
    }

    /// While a reload reads a large file, the status names it (the reload runs off the actor, so the board
    /// answers meanwhile); once the load has ended, the status no longer shows one.
    @Test func theStatusNamesTheFileAReloadIsReading() async throws {
        let (sandbox, agent, t0) = try await loaded()
        let big = "\(sandbox.manifests)/big.yaml"
        // A comment of 16 MiB: valid, no objects, and a parse long enough to be seen (about half a second in
        // a debug build).
        try sandbox.write("# " + String(repeating: "x", count: 16 << 20) + "\n", to: big)
        let reloading = Task { await self.reload(agent, at: t0 + .seconds(1)) }
        var seen: ManifestLoad?
        while seen?.file == nil {
            if let loading = agent.board.status().loading, loading.file != nil {
                seen = loading
            } else if await agent.manifestFilesParsed > 5 {
                break  // the reload ended before it was seen
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        await reloading.value
        #expect(seen?.kind == "incremental")
        #expect(seen?.file?.path == big && seen?.file?.count == 1 && seen?.file?.bytes == 16 << 20 + 3)
        #expect(agent.board.status().loading == nil)
        #expect(await agent.manifestFilesParsed == 6)
    }

    @Test func anEditReparsesOnlyItsFileAndChangesOnlyItsVirtualServer() async throws {
        let (sandbox, agent, t0) = try await loaded()
        try sandbox.write(Self.file(3, endpoints: [1, 7]), to: path(sandbox, 3))
        try settle()
        await reload(agent, at: t0 + .seconds(1))
        #expect(await agent.manifestFilesParsed == 6)
        let edited = tcp("10.96.3.1", 80)
        #expect(Set(sandbox.kernel.log.compactMap(\.service)) == [edited, tcp("10.96.3.2", 80)])
        #expect(sandbox.kernel.log.contains(.addServer(masq("10.244.3.7", 8080, weight: 1), to: edited)))
        #expect(sandbox.kernel.entries[edited]?.servers.contains { $0.id == rs("10.244.3.7", 8080) } == true)
        #expect(sandbox.kernel.entries.count == 10)

        // Nothing changed: nothing read, nothing programmed.
        sandbox.kernel.clearLog()
        await reload(agent, at: t0 + .seconds(2))
        #expect(await agent.manifestFilesParsed == 6)
        #expect(sandbox.kernel.log.isEmpty)
    }

    @Test func aRemovedFileRemovesOnlyItsServices() async throws {
        let (sandbox, agent, t0) = try await loaded()
        try FileManager.default.removeItem(atPath: path(sandbox, 2))
        await reload(agent, at: t0 + .seconds(1))
        #expect(await agent.manifestFilesParsed == 5)
        let gone: Set = [tcp("10.96.2.1", 80), tcp("10.96.2.2", 80)]
        #expect(Set(sandbox.kernel.log.compactMap(\.service)) == gone)
        #expect(sandbox.kernel.log.contains(.deleteService(tcp("10.96.2.1", 80))))
        #expect(sandbox.kernel.entries.count == 8)
        #expect(Set(sandbox.kernel.entries.keys).isDisjoint(with: gone))
    }

    @Test func aFileGoingBadKeepsEverythingUntilAGoodEdit() async throws {
        let (sandbox, agent, t0) = try await loaded()
        let table = sandbox.kernel.entries
        try sandbox.write(
            Self.file(4).replacingOccurrences(of: "port: 80,", with: "port: eighty,"),
            to: path(sandbox, 4)
        )
        // And another file's edit in the same reload: not applied either (nothing half-applied).
        try sandbox.write(Self.file(1, endpoints: [1, 9]), to: path(sandbox, 1))
        try settle()
        await reload(agent, at: t0 + .seconds(1))
        #expect(sandbox.kernel.log.isEmpty)
        #expect(sandbox.kernel.entries == table)
        var status = agent.status()
        #expect(status.manifestErrors.count == 2)
        #expect(status.manifestErrors.allSatisfy { $0.contains("file4.yaml") && $0.contains("eighty") })

        // A file defining an object another file defines is an error too.
        try sandbox.write(Self.file(4), to: path(sandbox, 4))
        try sandbox.write(Self.service(file: 5, index: 1, endpoints: [3]), to: "\(sandbox.manifests)/file6.yaml")
        try settle()
        await reload(agent, at: t0 + .seconds(2))
        #expect(sandbox.kernel.log.isEmpty)
        status = agent.status()
        #expect(status.manifestErrors.contains { $0.contains("duplicate Service ns5/svc1, first defined at") })

        try FileManager.default.removeItem(atPath: "\(sandbox.manifests)/file6.yaml")
        await reload(agent, at: t0 + .seconds(3))
        status = agent.status()
        #expect(status.manifestErrors.isEmpty)
        // Only file 1's edit reaches the kernel; file 4 is back as it was.
        let edited = tcp("10.96.1.1", 80)
        #expect(Set(sandbox.kernel.log.compactMap(\.service)) == [edited, tcp("10.96.1.2", 80)])
        #expect(sandbox.kernel.entries[edited]?.servers.contains { $0.id == rs("10.244.1.9", 8080) } == true)
        #expect(sandbox.kernel.entries[tcp("10.96.4.1", 80)] == table[tcp("10.96.4.1", 80)])
    }

    @Test func aSliceMovingBetweenServicesMovesItsEndpoints() async throws {
        let (sandbox, agent, t0) = try await loaded()
        // svc1's slice now names svc2: svc1 keeps no endpoint, svc2 has both slices' (the same addresses).
        try sandbox.write(Self.file(5, endpoints: [1, 2], sliceFor: [1: 2]), to: path(sandbox, 5))
        try settle()
        await reload(agent, at: t0 + .seconds(1))
        #expect(await agent.manifestFilesParsed == 6)
        #expect(
            Set(sandbox.kernel.log.compactMap(\.service)).isSubset(of: [tcp("10.96.5.1", 80), tcp("10.96.5.2", 80)])
        )
        let left = sandbox.kernel.entries[tcp("10.96.5.1", 80)]
        #expect(left?.servers.allSatisfy { $0.weight == 0 } ?? true)
        #expect(sandbox.kernel.entries[tcp("10.96.5.2", 80)]?.servers.count == 2)

        try sandbox.write(Self.file(5, endpoints: [4], sliceFor: [1: 2]), to: path(sandbox, 5))
        try settle()
        await reload(agent, at: t0 + .seconds(2))
        #expect(
            sandbox.kernel.entries[tcp("10.96.5.2", 80)]?.servers.first { $0.id == rs("10.244.5.4", 8080) }?.weight == 1
        )
    }

    /// A full reload lets the held store go before it builds the new one (a reload's peak was two stores);
    /// when it fails, the kernel keeps everything, and the next reload, even one the file watcher asked
    /// for, is full again: the fix then gives exactly what a clean load gives, and only the edit's
    /// operations reach the kernel.
    @Test func aFailedFullReloadIsFollowedByAFullOne() async throws {
        let (sandbox, agent, t0) = try await loaded()
        let table = sandbox.kernel.entries
        let broken = Self.file(2).replacingOccurrences(of: "port: 80,", with: "port: eighty,")
        try sandbox.write(broken, to: path(sandbox, 2))
        try settle()
        // No debounce for an asked-for full reload: it runs at the tick that takes it.
        await agent.requestReload(full: true, at: t0 + .seconds(1))
        await agent.tick(now: t0 + .seconds(1))
        #expect(await agent.manifestFilesParsed == 5, "a failed load counts no file")
        #expect(!agent.status().manifestErrors.isEmpty)
        #expect(sandbox.kernel.log.isEmpty && sandbox.kernel.entries == table)

        try sandbox.write(Self.file(2, endpoints: [1, 6]), to: path(sandbox, 2))
        try settle()
        await reload(agent, at: t0 + .seconds(2))
        #expect(await agent.manifestFilesParsed == 5 + 5, "the watcher's reload after a failed full one is full")
        #expect(agent.status().manifestErrors.isEmpty)
        let edited = tcp("10.96.2.1", 80)
        #expect(Set(sandbox.kernel.log.compactMap(\.service)) == [edited, tcp("10.96.2.2", 80)])
        #expect(sandbox.kernel.entries.count == 10)

        // The rebuilt store serves the next edit incrementally, as a clean start's would.
        sandbox.kernel.clearLog()
        try sandbox.write(Self.file(3, endpoints: [7]), to: path(sandbox, 3))
        try settle()
        await reload(agent, at: t0 + .seconds(3))
        #expect(await agent.manifestFilesParsed == 5 + 5 + 1)
        #expect(Set(sandbox.kernel.log.compactMap(\.service)) == [tcp("10.96.3.1", 80), tcp("10.96.3.2", 80)])
        let servers = sandbox.kernel.entries[tcp("10.96.3.1", 80)]?.servers ?? []
        #expect(servers.contains { $0.id == rs("10.244.3.7", 8080) })
    }

    @Test func aFullReloadGivesWhatTheEditsGave() async throws {
        let (sandbox, agent, t0) = try await loaded()
        try sandbox.write(Self.file(2, endpoints: [5], sliceFor: [2: 1]), to: path(sandbox, 2))
        try FileManager.default.removeItem(atPath: path(sandbox, 3))
        try settle()
        await reload(agent, at: t0 + .seconds(1))
        let desired = await agent.core.desired
        let names = await agent.names
        sandbox.kernel.clearLog()
        await agent.requestReload(full: true, at: t0 + .seconds(2) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(2))
        #expect(await agent.manifestFilesParsed == 5 + 1 + 4)
        #expect(await agent.core.desired == desired)
        #expect(await agent.names == names)
        #expect(sandbox.kernel.log.isEmpty)
    }
}

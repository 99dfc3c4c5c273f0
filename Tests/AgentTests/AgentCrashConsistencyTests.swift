import Agent
import Foundation
import IPVS
import Synchronization
import TestSupport
import Testing

/// Ownership survives a crash at every step boundary of a sync, and the loss or corruption of the state file:
/// a restarted agent manages exactly its own services and never takes a foreign one.
///
/// A SIGKILL leaves two things behind: the state file and the kernel (tables and interface addresses). The
/// step hook copies both at the boundary; a fresh agent then starts from that copy, as `ipvsd` would after
/// the kill. (AgentKernelTests kills the real binary at some of these steps too.)
@Suite struct AgentCrashConsistencyTests {
    /// What a crash leaves.
    struct Remains: Sendable {
        var stateFile: Data?
        var kernel: [VirtualServer.ID: KernelEntry]
        var addresses: Set<IPAddress>
    }

    static let foreignOnOtherVIP = tcp("192.168.50.1", 443)
    /// A service another tool made on one of the agent's VIPs: never claimed, whatever the evidence.
    static let foreignOnOwnVIP = tcp("10.96.100.50", 8443)

    /// The manifests change: a new Service (the sync adds it) and a cluster IP moved (the sync deletes three
    /// virtual servers and adds three), so the crashed sync both adds and deletes.
    private func changeManifests(_ sandbox: AgentSandbox) throws {
        try sandbox.write(ExampleManifests.lateService, to: sandbox.manifests + "/late.yaml")
        try sandbox.write(
            try String(contentsOfFile: sandbox.servicesFile, encoding: .utf8).replacingOccurrences(
                of: "clusterIP: 10.96.100.50",
                with: "clusterIP: 10.96.100.51"
            ),
            to: sandbox.servicesFile
        )
    }

    private func addForeign(to kernel: FakeIPVSKernel) {
        for id in [Self.foreignOnOtherVIP, Self.foreignOnOwnVIP] {
            kernel.apply(
                [
                    .addService(VirtualServer(id: id, scheduler: .weightedLeastConnection)),
                    .addServer(RealServer(address: IPAddress("192.168.7.5")!, port: 80, weight: 3), to: id),
                ],
                progress: nil
            )
        }
    }

    /// Programs the examples, then changes the manifests and syncs with the hook copying the remains at `step`.
    private func crash(at step: SyncStep) async throws -> (Remains, desired: [VirtualServer.ID: KernelEntry]) {
        let sandbox = try AgentSandbox()
        addForeign(to: sandbox.kernel)
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        #expect(agent.status().ready)

        try changeManifests(sandbox)
        let remains = Mutex<Remains?>(nil)
        let stateFile = sandbox.stateFile
        let kernel = sandbox.kernel
        let binder = sandbox.binder
        await agent.setStepHook { reached in
            guard reached == step else { return }
            remains.withLock { copy in
                guard copy == nil else { return }
                copy = Remains(
                    stateFile: FileManager.default.contents(atPath: stateFile),
                    kernel: kernel.entries,
                    addresses: binder.bound
                )
            }
        }
        await agent.requestReload(at: t0 + .seconds(1) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(1))
        await agent.setStepHook(nil)
        let copy = try #require(remains.withLock { $0 }, "the sync never reached \(step)")
        // What the manifests now describe: the agent's own services after the sync completed.
        let desired = sandbox.kernel.entries.filter {
            ![Self.foreignOnOtherVIP, Self.foreignOnOwnVIP].contains($0.key)
        }
        #expect(desired.keys.contains(tcp("10.96.77.77", 80)))
        #expect(desired.keys.contains(tcp("10.96.100.51", 80)))
        #expect(!desired.keys.contains(tcp("10.96.100.50", 80)))
        return (copy, desired)
    }

    /// A sandbox holding what a crash left, with the same manifests.
    private func restart(from remains: Remains, bindAddresses: Bool = true) throws -> AgentSandbox {
        let sandbox = try AgentSandbox()
        try changeManifests(sandbox)
        sandbox.configuration.bindAddresses = bindAddresses
        let services = remains.kernel.values.map { IPVSOperation.addService($0.service) }
        let servers = remains.kernel.values.flatMap { entry in
            entry.servers.map { IPVSOperation.addServer($0, to: entry.service.id) }
        }
        #expect(sandbox.kernel.apply(services + servers, progress: nil).failures.isEmpty)
        for address in remains.addresses { try sandbox.binder.add(address) }
        if let data = remains.stateFile {
            try FileManager.default.createDirectory(
                atPath: (sandbox.stateFile as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            try data.write(to: URL(fileURLWithPath: sandbox.stateFile))
        }
        sandbox.kernel.clearLog()
        return sandbox
    }

    /// After a restart, the table equals the desired one, foreign services are untouched, and the state file
    /// owns exactly the desired services.
    private func expectConverged(
        _ sandbox: AgentSandbox,
        desired: [VirtualServer.ID: KernelEntry],
        foreign: [VirtualServer.ID: KernelEntry],
        _ context: String
    ) async throws {
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        await agent.tick(now: t0 + .seconds(1))
        let table = sandbox.kernel.entries
        #expect(table.filter { desired.keys.contains($0.key) } == desired, "\(context)")
        #expect(table.filter { foreign.keys.contains($0.key) } == foreign, "\(context): a foreign service changed")
        #expect(Set(table.keys) == Set(desired.keys).union(foreign.keys), "\(context): \(table.keys.sorted())")
        #expect(sandbox.kernel.log.allSatisfy { !foreign.keys.contains($0.service!) }, "\(context)")
        let status = agent.status()
        #expect(status.conflicts.isEmpty, "\(context): \(status.conflicts)")
        #expect(status.lastError == nil, "\(context): \(status.lastError ?? "")")
        let saved = try #require(try sandbox.savedState(), "\(context)")
        #expect(try saved.ownedIDs() == Set(desired.keys), "\(context)")
        #expect(saved.pending.isEmpty, "\(context)")
        // Owned means managed: an endpoint edit reaches the recovered late service.
        try sandbox.write(
            ExampleManifests.lateService.replacingOccurrences(of: "10.244.9.1", with: "10.244.9.2"),
            to: sandbox.manifests + "/late.yaml"
        )
        await agent.requestReload(at: t0 + .seconds(2) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(2))
        #expect(
            sandbox.kernel.entries[tcp("10.96.77.77", 80)]?.servers.map(\.id) == [rs("10.244.9.2", 8080)],
            "\(context): the recovered service is not managed"
        )
    }

    @Test(arguments: SyncStep.allCases)
    func crashAtEveryStepConverges(step: SyncStep) async throws {
        let (remains, desired) = try await crash(at: step)
        let foreign = remains.kernel.filter { [Self.foreignOnOtherVIP, Self.foreignOnOwnVIP].contains($0.key) }
        #expect(foreign.count == 2)
        let sandbox = try restart(from: remains)
        try await expectConverged(sandbox, desired: desired, foreign: foreign, "crash at \(step.rawValue)")
    }

    /// The intent record alone is evidence enough: with no VIP on the interface to go by (bindAddresses off),
    /// a crash between the add and the ownership record still leaves the new service owned.
    @Test func intentRecordRecoversWithoutAddresses() async throws {
        let (remains, desired) = try await crash(at: .servicesAdded)
        let saved = try JSONDecoder().decode(AgentState.self, from: try #require(remains.stateFile))
        // The new Service and the three ports of the one whose cluster IP changed.
        #expect(saved.pending.count == 4)
        #expect(Set(saved.pending.map(\.address)) == ["10.96.100.51", "10.96.77.77"])
        #expect(try !saved.ownedIDs().contains(tcp("10.96.77.77", 80)))
        let foreign = remains.kernel.filter { [Self.foreignOnOtherVIP, Self.foreignOnOwnVIP].contains($0.key) }
        var stripped = remains
        stripped.addresses = []
        let sandbox = try restart(from: stripped, bindAddresses: false)
        try await expectConverged(sandbox, desired: desired, foreign: foreign, "intent record, no addresses")
    }

    /// The state file deleted, or corrupt: the VIPs on the agent's interface show which desired services are
    /// its own; the foreign service on one of those VIPs is not desired, so it is not taken.
    @Test(arguments: ["deleted", "corrupt", "truncated"])
    func lostStateFileIsRecoveredFromTheInterface(loss: String) async throws {
        let (remains, desired) = try await crash(at: .stateSaved)
        let foreign = remains.kernel.filter { [Self.foreignOnOtherVIP, Self.foreignOnOwnVIP].contains($0.key) }
        var damaged = remains
        switch loss {
        case "deleted": damaged.stateFile = nil
        case "corrupt": damaged.stateFile = Data("{\"version\": 2, \"owned\": [{\"protocol\": 7}]}".utf8)
        default: damaged.stateFile = remains.stateFile.map { $0.prefix($0.count / 2) }
        }
        let sandbox = try restart(from: damaged)
        try await expectConverged(sandbox, desired: desired, foreign: foreign, "state file \(loss)")
        if loss != "deleted" {
            #expect(FileManager.default.fileExists(atPath: sandbox.stateFile + ".corrupt"), "kept for inspection")
        }
    }

    /// Without the state file and without addresses to go by, nothing is evidence: the agent takes nothing,
    /// reports each desired service another holder has as a conflict, and changes nothing in the kernel.
    @Test func noEvidenceTakesNothing() async throws {
        let (remains, _) = try await crash(at: .stateSaved)
        var damaged = remains
        damaged.stateFile = nil
        damaged.addresses = []
        let sandbox = try restart(from: damaged, bindAddresses: false)
        let before = sandbox.kernel.entries
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        await agent.tick(now: t0 + .seconds(1))
        #expect(sandbox.kernel.log.isEmpty, "\(sandbox.kernel.log)")
        #expect(sandbox.kernel.entries == before)
        #expect(agent.status().conflicts.count == before.count - 2)
    }

    /// A state file that cannot be written (a full disk, a read-only mount): no new service is added, since
    /// its ownership could not be recorded, and what is programmed stays.
    @Test func unwritableStateFileAddsNothing() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let before = sandbox.kernel.entries
        // A directory where the temporary file would go makes every save fail.
        try FileManager.default.createDirectory(atPath: sandbox.stateFile + ".tmp", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: sandbox.stateFile + ".tmp/keep",
            withIntermediateDirectories: true
        )
        try sandbox.write(ExampleManifests.lateService, to: sandbox.manifests + "/late.yaml")
        sandbox.kernel.clearLog()
        await agent.requestReload(at: t0 + .seconds(1) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(1))
        #expect(sandbox.kernel.log.isEmpty, "\(sandbox.kernel.log)")
        #expect(sandbox.kernel.entries == before)
        let status = agent.status()
        #expect(status.lastError?.contains("cannot record 1 new services in the state file") == true, "\(status)")
    }

    /// A Service whose port changes while the state file cannot be written: its new virtual server cannot
    /// be added, so its old one stays, real servers, weights and address included (deleting it alone would
    /// leave the Service with neither); once the file can be written again, the move completes.
    @Test func unwritableStateFileKeepsAMovedServiceWhereItWas() async throws {
        let sandbox = try AgentSandbox(examples: false)
        try sandbox.write(ExampleManifests.lateService, to: sandbox.manifests + "/late.yaml")
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let old = tcp("10.96.77.77", 80)
        let before = sandbox.kernel.entries
        #expect(before[old]?.servers.count == 1)
        let blocker = sandbox.stateFile + ".tmp"
        try FileManager.default.createDirectory(atPath: blocker + "/keep", withIntermediateDirectories: true)
        let moved = ExampleManifests.lateService.replacingOccurrences(of: "port: 80,", with: "port: 81,")
        try sandbox.write(moved, to: sandbox.manifests + "/late.yaml")
        sandbox.kernel.clearLog()
        await agent.requestReload(at: t0 + .seconds(1) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(1))
        #expect(sandbox.kernel.log.isEmpty, "\(sandbox.kernel.log)")
        #expect(sandbox.kernel.entries == before)
        #expect(agent.status().lastError?.contains("keeping the services no longer desired") == true)

        // The disk has room again: the retry adds the new one and then removes the old.
        try FileManager.default.removeItem(atPath: blocker)
        await agent.tick(now: t0 + .seconds(10))
        #expect(sandbox.kernel.entries[tcp("10.96.77.77", 81)]?.servers.count == 1)
        let left = sandbox.kernel.entries[old]?.servers ?? []
        #expect(left.allSatisfy { $0.weight == 0 }, "the old one is gone or draining")
        #expect(agent.status().lastError == nil)
    }
}

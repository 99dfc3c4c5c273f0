import Agent
import Foundation
import IPVS
import Logging
import ServiceTables
import Synchronization
import TestSupport

/// An in-memory ``AddressBinder``: the set of addresses on the interface, and every add and remove.
final class FakeAddressBinder: AddressBinder {
    private struct State {
        var addresses: Set<IPAddress> = []
        var added: [IPAddress] = []
        var removed: [IPAddress] = []
        var failAdds: Set<IPAddress> = []
    }

    private let state = Mutex(State())

    var bound: Set<IPAddress> { state.withLock { $0.addresses } }
    var added: [IPAddress] { state.withLock { $0.added } }
    var removed: [IPAddress] { state.withLock { $0.removed } }

    func prepare() throws(IPVSError) {}
    func addresses() throws(IPVSError) -> Set<IPAddress> { state.withLock { $0.addresses } }

    /// Makes the next add of `address` fail once, as a missing CAP_NET_ADMIN would.
    func failNextAdd(of address: IPAddress) { state.withLock { _ = $0.failAdds.insert(address) } }

    func add(_ address: IPAddress) throws(IPVSError) {
        let refused = state.withLock { state in
            if state.failAdds.remove(address) != nil { return true }
            state.addresses.insert(address)
            state.added.append(address)
            return false
        }
        if refused { throw IPVSError(.permissionDenied, "cannot add \(address): operation not permitted") }
    }

    func remove(_ address: IPAddress) throws(IPVSError) {
        state.withLock {
            $0.addresses.remove(address)
            $0.removed.append(address)
        }
    }
}

/// A temporary directory with a manifests directory and a state file path, removed on deinit.
final class AgentSandbox {
    let root: String
    let kernel: FakeIPVSKernel
    let binder: FakeAddressBinder
    var configuration: AgentConfiguration

    var manifests: String { root + "/manifests" }
    var servicesFile: String { manifests + "/services.yaml" }
    var slicesFile: String { manifests + "/endpointslices.yaml" }
    var stateFile: String { root + "/state/state.json" }

    /// Writes the example manifests unless `examples` is false.
    init(examples: Bool = true, kernel: FakeIPVSKernel = FakeIPVSKernel()) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("agenttests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/manifests", withIntermediateDirectories: true)
        self.kernel = kernel
        self.binder = FakeAddressBinder()
        var configuration = AgentConfiguration()
        configuration.manifests = root + "/manifests"
        configuration.stateFile = root + "/state/state.json"
        // The actor starts no servers; these only make sure nothing points at the host's paths.
        configuration.metricsAddress = ""
        configuration.adminSocket = root + "/admin.sock"
        self.configuration = configuration
        if examples {
            try write(ExampleManifests.services, to: servicesFile)
            try write(ExampleManifests.endpointSlices, to: slicesFile)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// - Parameter kernel: the kernel the agent talks to; the sandbox's fake unless a test wraps it.
    func makeAgent(kernel: (any IPVSKernel)? = nil, metrics: AgentMetrics = AgentMetrics()) throws -> Agent {
        try Agent(
            configuration: configuration,
            kernel: kernel ?? self.kernel,
            binder: binder,
            logger: Logger(label: "agent-tests") { _ in SwiftLogNoOpLogHandler() },
            metrics: metrics
        )
    }

    /// The state file as JSON, or nil when it was not written.
    func savedState() throws -> AgentState? {
        guard let data = FileManager.default.contents(atPath: stateFile) else { return nil }
        return try JSONDecoder().decode(AgentState.self, from: data)
    }

    func saveState(_ state: AgentState) throws {
        try AgentStateFile(path: stateFile).save(state)
    }

    /// The kernel's table as text lines, `VS scheduler` then `  -> RS forwarding weight`, sorted.
    var table: [String] {
        kernel.contents.sorted { $0.key < $1.key }.flatMap { id, entry in
            ["\(id) \(entry.service.scheduler.rawValue)"]
                + entry.servers.values.sorted { $0.id < $1.id }.map { server in
                    "  -> \(server.id) \(server.forwarding) \(server.weight)"
                }
        }
    }
}

func tcp(_ address: String, _ port: UInt16) -> VirtualServer.ID {
    .service(.tcp, IPAddress(address)!, port: port)
}

func rs(_ address: String, _ port: UInt16) -> RealServer.ID {
    RealServer.ID(address: IPAddress(address)!, port: port)
}

/// A masquerading real server, as the manifest translation makes them.
func masq(_ address: String, _ port: UInt16, weight: UInt32) -> RealServer {
    RealServer(address: IPAddress(address)!, port: port, forwarding: .masquerade, weight: weight)
}

/// One virtual server in the kernel with its real servers, comparable as a whole.
struct KernelEntry: Equatable, CustomStringConvertible {
    var service: VirtualServer
    var servers: [RealServer]

    var description: String { "\(service.id) \(service.scheduler.rawValue) \(servers.map(\.id))" }
}

extension FakeIPVSKernel {
    /// The table without counting a read, real servers sorted.
    var entries: [VirtualServer.ID: KernelEntry] {
        contents.mapValues { KernelEntry(service: $0.service, servers: $0.servers.values.sorted { $0.id < $1.id }) }
    }
}

extension IPVSOperation {
    /// The virtual server the operation changes.
    var service: VirtualServer.ID? {
        switch self {
        case .addService(let service), .updateService(let service): service.id
        case .deleteService(let id), .addServer(_, let id), .updateServer(_, let id), .deleteServer(_, let id): id
        case .zero(let id): id
        case .flush, .setTimeouts, .startDaemon, .stopDaemon: nil
        }
    }
}

/// What the example manifests program, given the cluster IP the agent allocated for production/backend-api.
func exampleTable(allocated: IPAddress) -> [VirtualServer.ID: KernelEntry] {
    func entry(_ id: VirtualServer.ID, _ servers: [RealServer]) -> (VirtualServer.ID, KernelEntry) {
        (id, KernelEntry(service: VirtualServer(id: id, scheduler: .roundRobin), servers: servers))
    }
    return Dictionary(
        uniqueKeysWithValues: [
            entry(
                .service(.tcp, allocated, port: 80),
                [masq("10.244.1.11", 8080, weight: 1), masq("10.244.1.12", 8080, weight: 1)]
            ),
            entry(
                tcp("10.96.100.50", 80),
                [masq("10.244.2.21", 8080, weight: 1), masq("10.244.2.22", 8080, weight: 1)]
            ),
            entry(
                tcp("10.96.100.50", 9090),
                [masq("10.244.2.21", 9090, weight: 1), masq("10.244.2.22", 9090, weight: 1)]
            ),
            entry(
                tcp("10.96.100.50", 50051),
                [masq("10.244.2.21", 50051, weight: 1), masq("10.244.2.22", 50051, weight: 1)]
            ),
        ]
    )
}

/// The operations that program `table` from nothing: each service, then its real servers.
func additions(_ table: [VirtualServer.ID: KernelEntry]) -> Set<IPVSOperation> {
    Set(
        table.values.flatMap { entry in
            [IPVSOperation.addService(entry.service)] + entry.servers.map { .addServer($0, to: entry.service.id) }
        }
    )
}

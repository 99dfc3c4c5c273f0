import IPVS
import KubernetesManifests
import KubernetesWire
import ServiceTables
import YAMLSyntax

/// The Services and EndpointSlices held from the API (in ``ServiceObjects``, the store the manifest path
/// uses too), and the virtual servers each Service contributes. Each update names the Services it touches;
/// `rebuild` turns only those into desired virtual servers, so one event costs one Service's work however
/// large the cluster. What is the API's own: a rejected object keeps what was held, and a Service whose
/// build fails or conflicts keeps its last good virtual servers (the others still apply).
public struct ClusterState: Sendable {
    public private(set) var options: TranslationOptions
    private(set) var store = ServiceObjects()
    /// The virtual servers each Service contributes, as last built.
    private var contributed: [ObjectKey: [VirtualServer.ID]] = [:]
    private var owners: [VirtualServer.ID: ObjectKey] = [:]
    /// Services that lost a virtual server to another Service: rebuilt when any virtual server is freed.
    private var blocked: Set<ObjectKey> = []
    /// Why a Service's virtual servers are not (all) desired: build errors, conflicts. The last good ones
    /// stay while a build fails.
    public private(set) var problems: [ObjectKey: String] = [:]
    /// Each Service's name entry, kept as its Service is rebuilt, and a count of the changes to them.
    private var nameEntries: [ObjectKey: ServiceNameTable.Entry] = [:]
    public private(set) var namesVersion = 0
    /// The healthCheckNodePort each Service asks this node to answer, with its answer, as last built.
    private var healthAnswers: [ObjectKey: (port: UInt16, answer: HealthCheckNodePort)] = [:]
    /// Which Service holds each port in `healthAnswers`: a Service asking for a port is checked in O(1), not
    /// against every other Service's answer (quadratic over a first list where every Service has one).
    private var healthPortHolders: [UInt16: ObjectKey] = [:]
    /// Builds made ahead (``prebuild(_:)``) from the objects held now: an update to a Service's objects drops
    /// its entry, so each equals what a build would give now, and ``rebuild(_:)`` takes it instead.
    private var prebuilt: [ObjectKey: Outcome] = [:]

    /// One Service's build: nil when the Service is not held; a failure keeps its last good virtual servers.
    private typealias Outcome = Result<DesiredStateBuilder.ServiceBuild?, LocatedError>

    public init(options: TranslationOptions) { self.options = options }

    /// Sets this node's zone (from its Node object), before anything is built with the options.
    mutating func useZone(_ zone: String) { options.zone = zone }

    /// Every held Service.
    public var serviceKeys: Set<ObjectKey> { Set(store.services.keys) }

    /// The held Services and EndpointSlices as one set, as a manifest load would give them.
    public var objects: ManifestSet { store.all }

    /// Applies an update of `resource`; returns the Services whose virtual servers may change.
    public mutating func apply(_ update: ResourceUpdate, of resource: APIResource) -> Set<ObjectKey> {
        let affected = held(update, of: resource)
        if !prebuilt.isEmpty {
            for key in affected { prebuilt[key] = nil }
        }
        return affected
    }

    private mutating func held(_ update: ResourceUpdate, of resource: APIResource) -> Set<ObjectKey> {
        switch update {
        case .changed(let object):
            return set(object, of: resource)
        case .deleted(let key):
            return remove(key, of: resource)
        case .page(let objects):
            var affected = Set<ObjectKey>()
            for object in objects { affected.formUnion(set(object, of: resource)) }
            return affected
        case .listed(let objects):
            // The objects as a page, then every held key the list no longer has goes.
            var affected = held(.page(objects), of: resource)
            let present = Set(objects.map(\.key))
            let held = resource == .services ? Set(store.services.keys) : Set(store.slices.keys)
            for key in held.subtracting(present) { affected.formUnion(remove(key, of: resource)) }
            return affected
        }
    }

    private mutating func set(_ object: ReadObject, of resource: APIResource) -> Set<ObjectKey> {
        switch object.value {
        case .failure:
            // Rejected: what is held for the key stays.
            return []
        case .success(.notOurs), .success(.endpointSlice(nil)):
            return remove(object.key, of: resource)
        case .success(.service(let service)):
            return store.set(service)
        case .success(.endpointSlice(.some(let slice))):
            return store.set(slice)
        }
    }

    private mutating func remove(_ key: ObjectKey, of resource: APIResource) -> Set<ObjectKey> {
        switch resource {
        case .services: store.removeService(key)
        case .endpointSlices: store.removeSlice(key)
        }
    }

    /// The healthCheckNodePorts this node answers (what a manifest build puts in
    /// `DesiredState.healthCheckNodePorts`), from every held Service.
    public var healthCheckNodePorts: [UInt16: HealthCheckNodePort] {
        var answers: [UInt16: HealthCheckNodePort] = [:]
        for (port, answer) in healthAnswers.values { answers[port] = answer }
        return answers
    }

    /// Builds those of `keys` whose Service and at least one of its slices are held, ahead of ``rebuild(_:)``:
    /// while a first list's later pages are still coming, so the build that ends it has little left to do
    /// (at 10k Services x 10, the build after the lists was a quarter of the time to ready in the VM). A
    /// Service without slices yet is left: its slices are likely still to come, and would undo the build.
    public mutating func prebuild(_ keys: Set<ObjectKey>) {
        let (objects, options) = (store, options)
        let due = keys.filter { objects.services[$0] != nil && objects.holdsSlices(of: $0) }.sorted()
        guard !due.isEmpty else { return }
        for (key, outcome) in zip(due, Self.builds(of: due, store: objects, options: options)) {
            prebuilt[key] = outcome
        }
    }

    /// Builds the virtual servers of `keys` and returns the delta for `LoadBalancerState.updateDesired`:
    /// each virtual server a Service now contributes, and nil for each it no longer does. Unchanged
    /// virtual servers are in the delta too; `updateDesired` drops them, so they cost no kernel operation.
    public mutating func rebuild(_ keys: Set<ObjectKey>) -> [VirtualServer.ID: DesiredVirtualServer?] {
        var changes: [VirtualServer.ID: DesiredVirtualServer?] = [:]
        var queue = keys.sorted()
        // A Service's build reads only the held objects, so a large rebuild (the first lists', a relist's)
        // builds them on several threads first; the loop below, which settles conflicts in key order, takes
        // their results. A Service queued again (it was blocked) is built here.
        let outcomes = Self.builds(of: queue, store: store, options: options, ready: prebuilt)
        prebuilt = [:]
        var index = 0
        while index < queue.count {
            let key = queue[index]
            let outcome = index < outcomes.count ? outcomes[index] : Self.build(key, store: store, options: options)
            index += 1
            let old = contributed[key] ?? []
            var built: [DesiredVirtualServer] = []
            switch outcome {
            case .success(let build?):
                built = build.virtualServers
                problems[key] = nil
                setHealthAnswer(build.healthCheckNodePort, of: key)
            case .success(nil):
                // Not held (deleted), or held and building to nothing.
                problems[key] = nil
                setHealthAnswer(nil, of: key)
            case .failure(let error):
                // The last good virtual servers stay.
                problems[key] = error.description
                continue
            }
            blocked.remove(key)
            var now: [VirtualServer.ID] = []
            for virtualServer in built {
                let id = virtualServer.id
                if let owner = owners[id], owner != key || now.contains(id) {
                    let message = "virtual server \(id) is also defined by \(owner)"
                    problems[key] = problems[key].map { "\($0); \(message)" } ?? message
                    blocked.insert(key)
                    continue
                }
                owners[id] = key
                now.append(id)
                changes[id] = .some(virtualServer)
            }
            var freed = false
            for id in old where !now.contains(id) {
                owners[id] = nil
                changes.updateValue(nil, forKey: id)
                freed = true
            }
            contributed[key] = now.isEmpty ? nil : now
            if freed {
                for waiting in blocked.sorted() where !queue[index...].contains(waiting) { queue.append(waiting) }
            }
        }
        for key in keys {
            // API Services carry their cluster IPs: nothing is allocated.
            let entry = store.nameEntry(of: key, allocations: ClusterIPAllocations())
            if nameEntries[key] != entry {
                nameEntries[key] = entry
                namesVersion += 1
            }
        }
        return changes
    }

    /// Services built per thread, at least, when a rebuild splits: a thread costs more than a few builds.
    static let buildsPerPart = 512

    /// The builds of `keys`, in their order: in parts on several threads when there are many; a key in
    /// `ready` (built ahead) takes its build from there.
    private static func builds(
        of keys: [ObjectKey],
        store: ServiceObjects,
        options: TranslationOptions,
        ready: [ObjectKey: Outcome] = [:]
    ) -> [Outcome] {
        InParts.map(count: keys.count, minimumPerPart: buildsPerPart) { range in
            keys[range].map { ready[$0] ?? build($0, store: store, options: options) }
        }.flatMap { $0 }
    }

    /// One Service's build from the held objects; `.success(nil)` when the Service is not held.
    private static func build(_ key: ObjectKey, store: ServiceObjects, options: TranslationOptions) -> Outcome {
        guard let service = store.services[key] else { return .success(nil) }
        // API Services carry their cluster IPs: nothing is allocated.
        var clusterIPs: [IPAddress] = []
        if case .addresses(let addresses) = service.clusterIP { clusterIPs = addresses }
        return store.buildOutcome(key, clusterIPs: clusterIPs, options: options).outcome
    }

    /// The names DNS and `explain` serve, by namespace and name.
    public var names: ServiceNameTable {
        ServiceNameTable(byService: nameEntries)
    }

    /// Records the healthCheckNodePort `key` asks for; a port another Service already has is refused, as a
    /// manifest build refuses it, and the refusal is the Service's problem.
    private mutating func setHealthAnswer(_ answer: (port: UInt16, answer: HealthCheckNodePort)?, of key: ObjectKey) {
        if let old = healthAnswers.removeValue(forKey: key), healthPortHolders[old.port] == key {
            healthPortHolders[old.port] = nil
        }
        guard let answer else { return }
        if let other = healthPortHolders[answer.port] {
            problems[key] = "spec.healthCheckNodePort: port \(answer.port) is also the healthCheckNodePort of \(other)"
            return
        }
        healthAnswers[key] = answer
        healthPortHolders[answer.port] = key
    }
}

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
    public let options: TranslationOptions
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

    public init(options: TranslationOptions) { self.options = options }

    /// Every held Service.
    public var serviceKeys: Set<ObjectKey> { Set(store.services.keys) }

    /// The held Services and EndpointSlices as one set, as a manifest load would give them.
    public var objects: ManifestSet { store.all }

    /// Applies an update of `resource`; returns the Services whose virtual servers may change.
    public mutating func apply(_ update: ResourceUpdate, of resource: APIResource) -> Set<ObjectKey> {
        switch update {
        case .changed(let object):
            return set(object, of: resource)
        case .deleted(let key):
            return remove(key, of: resource)
        case .listed(let objects):
            var affected = Set<ObjectKey>()
            var present = Set<ObjectKey>()
            for object in objects {
                present.insert(object.key)
                affected.formUnion(set(object, of: resource))
            }
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

    /// Builds the virtual servers of `keys` and returns the delta for `LoadBalancerState.updateDesired`:
    /// each virtual server a Service now contributes, and nil for each it no longer does. Unchanged
    /// virtual servers are in the delta too; `updateDesired` drops them, so they cost no kernel operation.
    public mutating func rebuild(_ keys: Set<ObjectKey>) -> [VirtualServer.ID: DesiredVirtualServer?] {
        var changes: [VirtualServer.ID: DesiredVirtualServer?] = [:]
        var queue = keys.sorted()
        var index = 0
        while index < queue.count {
            let key = queue[index]
            index += 1
            let old = contributed[key] ?? []
            var built: [DesiredVirtualServer] = []
            if let service = store.services[key] {
                var notes: [String] = []
                // API Services carry their cluster IPs: nothing is allocated.
                let clusterIPs: [IPAddress]
                if case .addresses(let addresses) = service.clusterIP {
                    clusterIPs = addresses
                } else {
                    clusterIPs = []
                }
                do throws(LocatedError) {
                    let build = try store.build(key, clusterIPs: clusterIPs, options: options, notes: &notes)
                    built = build?.virtualServers ?? []
                    problems[key] = nil
                    setHealthAnswer(build?.healthCheckNodePort, of: key)
                } catch {
                    // The last good virtual servers stay.
                    problems[key] = error.description
                    continue
                }
            } else {
                problems[key] = nil
                healthAnswers[key] = nil
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

    /// The names DNS and `explain` serve, by namespace and name.
    public var names: ServiceNameTable {
        ServiceNameTable(byService: nameEntries)
    }

    /// Records the healthCheckNodePort `key` asks for; a port another Service already has is refused, as a
    /// manifest build refuses it, and the refusal is the Service's problem.
    private mutating func setHealthAnswer(_ answer: (port: UInt16, answer: HealthCheckNodePort)?, of key: ObjectKey) {
        guard let answer else {
            healthAnswers[key] = nil
            return
        }
        if let other = healthAnswers.first(where: { $0.key != key && $0.value.port == answer.port })?.key {
            healthAnswers[key] = nil
            problems[key] = "spec.healthCheckNodePort: port \(answer.port) is also the healthCheckNodePort of \(other)"
            return
        }
        healthAnswers[key] = answer
    }
}

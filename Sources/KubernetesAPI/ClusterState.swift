import IPVS
import KubernetesManifests
import KubernetesWire
import LoadBalancer

/// The Services and EndpointSlices held from the API, and the virtual servers each Service contributes.
/// Each update names the Services it touches; `rebuild` turns only those into desired virtual servers
/// (DesiredStateBuilder's per-Service build, the one the manifest path uses), so one event costs one
/// Service's work however large the cluster.
public struct ClusterState: Sendable {
    public let options: TranslationOptions
    private(set) var services: [ObjectKey: Service] = [:]
    private(set) var slices: [ObjectKey: EndpointSlice] = [:]
    /// Each Service's slices, by the slices' `kubernetes.io/service-name` label.
    private var slicesOf: [ObjectKey: Set<ObjectKey>] = [:]
    /// The virtual servers each Service contributes, as last built.
    private var contributed: [ObjectKey: [VirtualServer.ID]] = [:]
    private var owners: [VirtualServer.ID: ObjectKey] = [:]
    /// Services that lost a virtual server to another Service: rebuilt when any virtual server is freed.
    private var blocked: Set<ObjectKey> = []
    /// Why a Service's virtual servers are not (all) desired: build errors, conflicts. The last good ones
    /// stay while a build fails.
    public private(set) var problems: [ObjectKey: String] = [:]
    /// The healthCheckNodePort each Service asks this node to answer, with its answer, as last built.
    private var healthAnswers: [ObjectKey: (port: UInt16, answer: HealthCheckNodePort)] = [:]

    public init(options: TranslationOptions) { self.options = options }

    /// Every held Service.
    public var serviceKeys: Set<ObjectKey> { Set(services.keys) }

    /// The held Services and EndpointSlices as one set, as a manifest load would give them.
    public var objects: ManifestSet {
        ManifestSet(services: Array(services.values), endpointSlices: Array(slices.values))
    }

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
            let held = resource == .services ? Set(services.keys) : Set(slices.keys)
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
            guard services[object.key] != service else { return [] }
            services[object.key] = service
            return [object.key]
        case .success(.endpointSlice(.some(let slice))):
            guard slices[object.key] != slice else { return [] }
            var affected = remove(object.key, of: .endpointSlices)
            let owner = ObjectKey(namespace: slice.namespace, name: slice.serviceName)
            slices[object.key] = slice
            slicesOf[owner, default: []].insert(object.key)
            affected.insert(owner)
            return affected
        }
    }

    private mutating func remove(_ key: ObjectKey, of resource: APIResource) -> Set<ObjectKey> {
        switch resource {
        case .services:
            return services.removeValue(forKey: key) == nil ? [] : [key]
        case .endpointSlices:
            guard let old = slices.removeValue(forKey: key) else { return [] }
            let owner = ObjectKey(namespace: old.namespace, name: old.serviceName)
            slicesOf[owner]?.remove(key)
            if slicesOf[owner]?.isEmpty == true { slicesOf[owner] = nil }
            return [owner]
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
            if let service = services[key] {
                var notes: [String] = []
                let clusterIPs: [IPAddress]
                if case .addresses(let addresses) = service.clusterIP {
                    clusterIPs = addresses
                } else {
                    clusterIPs = []
                }
                let own = (slicesOf[key] ?? []).sorted().compactMap { slices[$0] }
                do throws(ManifestError) {
                    let contribution = try DesiredStateBuilder.contribution(
                        of: service,
                        clusterIPs: clusterIPs,
                        slices: own,
                        options: options,
                        notes: &notes
                    )
                    built = contribution.virtualServers
                    problems[key] = nil
                    setHealthAnswer(contribution.healthCheckNodePort, of: key)
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
        return changes
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

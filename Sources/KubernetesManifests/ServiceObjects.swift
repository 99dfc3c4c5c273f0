import IPVS
import ServiceTables
import YAMLSyntax

/// The Services, EndpointSlices and Endpoints a source holds, indexed by the Service each belongs to, so
/// one change names the Services it touches and one Service is rebuilt from its own objects. Shared by
/// the manifest store (``ManifestStore``) and the Kubernetes API source (`ClusterState`): both feed it
/// and rebuild only the Services it names.
public struct ServiceObjects: Sendable {
    public private(set) var services: [ObjectKey: Service] = [:]
    public private(set) var slices: [ObjectKey: EndpointSlice] = [:]
    public private(set) var endpoints: [ObjectKey: Endpoints] = [:]
    /// Each Service's slices, by the slices' `kubernetes.io/service-name` label.
    private var slicesOf: [ObjectKey: Set<ObjectKey>] = [:]
    private var interning = EndpointInterning()

    public init() {}

    /// The held objects as one set, as a manifest load would give them.
    public var all: ManifestSet {
        ManifestSet(
            services: Array(services.values),
            endpointSlices: Array(slices.values),
            endpoints: Array(endpoints.values)
        )
    }

    /// Holds `service`; returns its key when that changed anything.
    public mutating func set(_ service: Service) -> Set<ObjectKey> {
        let key = ObjectKey(namespace: service.namespace, name: service.name)
        guard services[key] != service else { return [] }
        services[key] = service
        return [key]
    }

    /// Holds `slice`; returns the Services it left and joined when that changed anything.
    public mutating func set(_ slice: EndpointSlice) -> Set<ObjectKey> {
        let key = ObjectKey(namespace: slice.namespace, name: slice.name)
        guard slices[key] != slice else { return [] }
        var affected = removeSlice(key)
        let owner = ObjectKey(namespace: slice.namespace, name: slice.serviceName)
        slices[key] = interning.intern(slice)
        slicesOf[owner, default: []].insert(key)
        affected.insert(owner)
        return affected
    }

    /// Holds `object` (the Service of the same name uses it when no slice names that Service).
    public mutating func set(_ object: Endpoints) -> Set<ObjectKey> {
        let key = ObjectKey(namespace: object.namespace, name: object.name)
        guard endpoints[key] != object else { return [] }
        endpoints[key] = object
        return [key]
    }

    public mutating func removeService(_ key: ObjectKey) -> Set<ObjectKey> {
        services.removeValue(forKey: key) == nil ? [] : [key]
    }

    public mutating func removeSlice(_ key: ObjectKey) -> Set<ObjectKey> {
        guard let old = slices.removeValue(forKey: key) else { return [] }
        let owner = ObjectKey(namespace: old.namespace, name: old.serviceName)
        slicesOf[owner]?.remove(key)
        if slicesOf[owner]?.isEmpty == true { slicesOf[owner] = nil }
        return [owner]
    }

    public mutating func removeEndpoints(_ key: ObjectKey) -> Set<ObjectKey> {
        endpoints.removeValue(forKey: key) == nil ? [] : [key]
    }

    /// Whether any slice names the Service.
    public func holdsSlices(of key: ObjectKey) -> Bool { slicesOf[key] != nil }

    /// A Service's slices in load order (file, then line; then name), as a whole-set build sees them.
    public func slices(of key: ObjectKey) -> [EndpointSlice] {
        (slicesOf[key] ?? []).compactMap { slices[$0] }.sorted {
            ($0.location.file, $0.location.line, $0.name) < ($1.location.file, $1.location.line, $1.name)
        }
    }

    /// The endpoint view of one Service: its own slices and Endpoints, nothing else.
    func resolution(of key: ObjectKey) -> EndpointResolution {
        EndpointResolution(slices: slices(of: key), endpoints: endpoints[key].map { [$0] } ?? [])
    }

    /// Builds one held Service (DesiredStateBuilder's per-Service build); nil when it is not held.
    /// - Throws: the Service's annotation errors.
    public func build(
        _ key: ObjectKey,
        clusterIPs: [IPAddress],
        options: TranslationOptions,
        notes: inout [String]
    ) throws(LocatedError) -> DesiredStateBuilder.ServiceBuild? {
        guard let service = services[key] else { return nil }
        return try DesiredStateBuilder.service(
            service,
            clusterIPs: clusterIPs,
            resolution: resolution(of: key),
            options: options,
            notes: &notes
        )
    }

    /// ``build(_:clusterIPs:options:notes:)`` with its outcome and notes as values: for builds run in parts on
    /// several threads and taken in key order afterwards.
    public func buildOutcome(
        _ key: ObjectKey,
        clusterIPs: [IPAddress],
        options: TranslationOptions
    ) -> (outcome: Result<DesiredStateBuilder.ServiceBuild?, LocatedError>, notes: [String]) {
        var notes: [String] = []
        do throws(LocatedError) {
            return (.success(try build(key, clusterIPs: clusterIPs, options: options, notes: &notes)), notes)
        } catch {
            return (.failure(error), notes)
        }
    }
}

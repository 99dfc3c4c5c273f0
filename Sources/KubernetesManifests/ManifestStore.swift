import IPVS
import ServiceTables
import YAMLSyntax

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The manifests as last loaded without error, kept per file, and what they build: a reload re-parses
/// only the files whose version changed (device, inode, size, modification and change times), rebuilds
/// only the Services the changed objects touch, and returns the difference for
/// `LoadBalancerState.updateDesired`. Cross-file rules are those of a whole load (``ManifestLoader``,
/// ``DesiredStateBuilder``): an object defined in two files, a virtual server or healthCheckNodePort two
/// Services claim, a full service CIDR are errors, and any error leaves the store as it was.
public struct ManifestStore: Sendable {
    /// One file's objects as last parsed.
    struct FileEntry: Sendable {
        var file: ManifestFile
        var set: ManifestSet
        var definitions: [ObjectDefinition]
        /// Whether the file's times were older than the scan that read it by more than ``racyWindow``.
        /// File times come from a coarse clock (one tick is several ms), so a file rewritten twice within a
        /// tick at the same size, on a reused inode, looks unchanged: a file read that recently is read
        /// again by the next scan (git's "racy clean" rule).
        var settled: Bool
    }

    /// A file as applied: its version, the keys of what it defines, and its definitions.
    struct StoredFile: Sendable {
        var file: ManifestFile
        var services: [ObjectKey]
        var slices: [ObjectKey]
        var endpoints: [ObjectKey]
        var definitions: [ObjectDefinition]
        var settled: Bool

        init(_ entry: FileEntry) {
            file = entry.file
            services = entry.set.services.map { ObjectKey(namespace: $0.namespace, name: $0.name) }
            slices = entry.set.endpointSlices.map { ObjectKey(namespace: $0.namespace, name: $0.name) }
            endpoints = entry.set.endpoints.map { ObjectKey(namespace: $0.namespace, name: $0.name) }
            definitions = entry.definitions
            settled = entry.settled
        }
    }

    /// Longer than a kernel clock tick (10 ms at HZ=100) with margin.
    public static let racyWindow: Int64 = 50_000_000

    /// What a scan read: the listing, and every file whose version the store did not hold, parsed.
    public struct Scan: Sendable {
        public var listing: [ManifestFile] = []
        public var notes: [String] = []
        var parsed: [String: FileEntry] = [:]
        /// Every problem in path order; any means the scan must not be applied.
        public var errors: [LocatedError] = []
        /// How many files were read and parsed (the rest were unchanged).
        public var parsedFiles: Int { parsed.count }
    }

    /// Where a scan is: about to read `file`, the `index`th (from 0) of the `count` files it reads.
    public struct ScanProgress: Sendable, Equatable {
        public var file: String
        public var bytes: Int64
        public var index: Int
        public var count: Int
    }

    /// One applied reload.
    public struct Update: Sendable {
        /// Each virtual server that may have changed (nil: removed), for `LoadBalancerState.updateDesired`.
        public var changes: [VirtualServer.ID: DesiredVirtualServer?] = [:]
        /// Notes of the re-parsed files and rebuilt Services.
        public var notes: [String] = []
        public var healthCheckNodePortsChanged = false
        public var namesChanged = false
        /// The Services rebuilt.
        public var rebuilt: Set<ObjectKey> = []
    }

    public let options: TranslationOptions
    /// What each file defined when last applied: keys only, since ``objects`` holds the objects (a parse
    /// kept per file held every object twice, and an endpoint array twice once interned).
    private var files: [String: StoredFile] = [:]
    private var objects = ServiceObjects()
    /// The file defining each object (`Service default/web`); the definition itself is in that file's
    /// ``StoredFile`` (a copy here cost about 3 MB at 10k x 10).
    private var definers: [String: String] = [:]
    public private(set) var allocations: ClusterIPAllocations
    private var clusterIPs: [ObjectKey: [IPAddress]] = [:]
    private var contributed: [ObjectKey: [VirtualServer.ID]] = [:]
    private var owners: [VirtualServer.ID: ObjectKey] = [:]
    public private(set) var healthCheckNodePorts: [UInt16: HealthCheckNodePort] = [:]
    private var portOwners: [ObjectKey: UInt16] = [:]
    private var nameEntries: [ObjectKey: ServiceNameTable.Entry] = [:]

    /// - Parameter allocations: cluster IPs chosen by earlier builds (the state file's); kept while their
    ///   Service exists.
    public init(options: TranslationOptions, allocations: ClusterIPAllocations = ClusterIPAllocations()) {
        self.options = options
        self.allocations = allocations
    }

    /// The version of each file held whose parse can be trusted while that version stays (see
    /// ``FileEntry/settled``): what a scan needs not read again.
    public var versions: [String: ManifestFile] { files.filter(\.value.settled).mapValues(\.file) }

    /// The held objects, as a whole load gives them.
    public var objectSet: ManifestSet { objects.all }

    /// The names DNS and `explain` serve, by namespace and name.
    public var names: ServiceNameTable {
        ServiceNameTable(byService: nameEntries)
    }

    /// Lists `path` and reads and parses each file whose version is not in `known` (off any actor: this is
    /// the slow part). A file that cannot be read or parsed is an error, as in a whole load.
    /// - Parameter progress: told before each file is read, with its place among the files to read; a
    ///   large file can take seconds to parse, and the agent's status names the file it is at.
    public static func scan(
        _ path: String,
        known: [String: ManifestFile],
        progress: (ScanProgress) -> Void = { _ in }
    ) -> Scan {
        var scan = Scan()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let settledBefore = FileStatus.nanoseconds(now) &- racyWindow
        do throws(LocatedError) {
            (scan.listing, scan.notes) = try ManifestFiles.list(path)
        } catch {
            scan.errors = [error]
            return scan
        }
        let changed = scan.listing.filter { known[$0.path] != $0 }
        for (index, file) in changed.enumerated() {
            progress(ScanProgress(file: file.path, bytes: file.size, index: index, count: changed.count))
            do throws(LocatedError) {
                let parsed = ManifestLoader.parseFile(try ManifestFiles.read(file.path), file: file.path)
                scan.errors += parsed.errors
                scan.parsed[file.path] = FileEntry(
                    file: file,
                    set: parsed.set,
                    definitions: parsed.definitions,
                    settled: max(file.modified, file.statusChanged) < settledBefore
                )
            } catch {
                scan.errors.append(error)
            }
        }
        return scan
    }

    /// Applies a scan: the changed files' objects replace their old ones, and the Services they touch are
    /// rebuilt. `refuse` sees each virtual server about to be desired and names those that must not be.
    /// A rebuilt virtual server equal to its entry in `reusing` (the desired state held while this one is
    /// built) is given as that entry, sharing its storage: a full reload of unchanged manifests at 10k x 10
    /// otherwise held a second copy of every real server table until the core let the old one go.
    /// - Throws: every problem found; the store is then unchanged.
    public mutating func apply(
        _ scan: Scan,
        reusing: [VirtualServer.ID: DesiredVirtualServer] = [:],
        refuse: ([VirtualServer.ID: DesiredVirtualServer]) -> [LocatedError] = { _ in [] }
    ) throws(ManifestErrors) -> Update {
        let listed = Set(scan.listing.map(\.path))
        let removed = files.keys.filter { !listed.contains($0) }
        let touched = Set(removed).union(scan.parsed.keys)
        let problems = scan.errors + duplicates(scan, touched: touched)
        guard problems.isEmpty else { throw ManifestErrors(problems) }

        var update = Update()
        update.notes = scan.notes + scan.parsed.keys.sorted().flatMap { scan.parsed[$0]!.set.notes }
        let paths = touched.sorted()
        let old = paths.map { files[$0].map(heldObjects) ?? ManifestSet() }
        let new = paths.map { scan.parsed[$0]?.set ?? ManifestSet() }
        let change = replace(old, with: new)
        var affected = change.affected
        let servicesChanged = change.services
        do throws(ManifestErrors) {
            var nextClusterIPs = clusterIPs
            var nextAllocations = allocations
            var sink = ErrorSink()
            // A first load allocates even without Services, as a whole build does (it drops stale allocations).
            if servicesChanged || files.isEmpty {
                // Allocation looks at every Service (a freed address may go to another); it runs only when a
                // Service changed, and its result is compared per Service.
                let services = objects.services.values.sorted {
                    ($0.namespace, $0.name) < ($1.namespace, $1.name)
                }
                let (byName, chosen) = DesiredStateBuilder.allocate(
                    services,
                    options: options,
                    previous: allocations,
                    sink: &sink
                )
                nextClusterIPs = [:]
                for (name, addresses) in byName {
                    let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
                    nextClusterIPs[ObjectKey(namespace: parts[0], name: parts[1])] = addresses
                }
                for key in Set(nextClusterIPs.keys).union(clusterIPs.keys)
                where nextClusterIPs[key] != clusterIPs[key] {
                    affected.insert(key)
                }
                nextAllocations = chosen
            }
            try rebuild(
                affected,
                clusterIPs: nextClusterIPs,
                allocations: nextAllocations,
                errors: sink.errors,
                reusing: reusing,
                refuse,
                into: &update
            )
            clusterIPs = nextClusterIPs
            allocations = nextAllocations
        } catch {
            // Undone in place: a copy kept for the purpose would cost a copy of every object per reload.
            _ = replace(new, with: old)
            throw error
        }
        for path in touched {
            for definition in files[path]?.definitions ?? [] where definers[definition.key] == path {
                definers[definition.key] = nil
            }
        }
        for path in removed { files[path] = nil }
        for (path, entry) in scan.parsed { files[path] = StoredFile(entry) }
        for path in scan.parsed.keys.sorted() {
            for definition in scan.parsed[path]!.definitions { definers[definition.key] = path }
        }
        update.rebuilt = affected
        return update
    }

    /// Each definition of an object after its first (in path order, then within the file) is an error, as
    /// in a whole load; only the keys the changed files define are looked at.
    private func duplicates(_ scan: Scan, touched: Set<String>) -> [LocatedError] {
        var byKey: [String: [ObjectDefinition]] = [:]
        for path in scan.parsed.keys.sorted() {
            for definition in scan.parsed[path]!.definitions { byKey[definition.key, default: []].append(definition) }
        }
        var errors: [LocatedError] = []
        // The held definitions of the files that still define a key a changed file defines (duplicates only),
        // indexed once per file.
        var heldIn: [String: [String: ObjectDefinition]] = [:]
        for (key, var all) in byKey {
            if let path = definers[key], !touched.contains(path) {
                if heldIn[path] == nil {
                    heldIn[path] = Dictionary(
                        (files[path]?.definitions ?? []).map { ($0.key, $0) },
                        uniquingKeysWith: { first, _ in first }
                    )
                }
                if let held = heldIn[path]?[key] {
                    all.insert(held, at: all.firstIndex { $0.location.file > held.location.file } ?? all.endIndex)
                }
            }
            for definition in all.dropFirst() { errors.append(definition.duplicate(of: all[0].location)) }
        }
        return errors.sorted { ($0.file, $0.line ?? 0) < ($1.file, $1.line ?? 0) }
    }

    /// Replaces the changed files' objects (`old`, one set per file) with `new` in the object store: every
    /// removal first, so an object moving between two changed files stays. Returns the Services touched and
    /// whether a Service itself changed (which may change allocations).
    /// The objects `file` defined, as the store holds them (exactly what was applied from it: an object
    /// defined twice is an error, never applied).
    private func heldObjects(_ file: StoredFile) -> ManifestSet {
        ManifestSet(
            services: file.services.compactMap { objects.services[$0] },
            endpointSlices: file.slices.compactMap { objects.slices[$0] },
            endpoints: file.endpoints.compactMap { objects.endpoints[$0] }
        )
    }

    private mutating func replace(
        _ old: [ManifestSet],
        with new: [ManifestSet]
    ) -> (affected: Set<ObjectKey>, services: Bool) {
        func key(_ namespace: String, _ name: String) -> ObjectKey { ObjectKey(namespace: namespace, name: name) }
        var affected = Set<ObjectKey>()
        let services = Set(new.flatMap(\.services).map { key($0.namespace, $0.name) })
        let slices = Set(new.flatMap(\.endpointSlices).map { key($0.namespace, $0.name) })
        let endpoints = Set(new.flatMap(\.endpoints).map { key($0.namespace, $0.name) })
        for set in old {
            for service in set.services where !services.contains(key(service.namespace, service.name)) {
                affected.formUnion(objects.removeService(key(service.namespace, service.name)))
            }
        }
        for set in new {
            for service in set.services { affected.formUnion(objects.set(service)) }
        }
        let servicesChanged = !affected.isEmpty
        for set in old {
            for slice in set.endpointSlices where !slices.contains(key(slice.namespace, slice.name)) {
                affected.formUnion(objects.removeSlice(key(slice.namespace, slice.name)))
            }
            for object in set.endpoints where !endpoints.contains(key(object.namespace, object.name)) {
                affected.formUnion(objects.removeEndpoints(key(object.namespace, object.name)))
            }
        }
        for set in new {
            for slice in set.endpointSlices { affected.formUnion(objects.set(slice)) }
            for object in set.endpoints { affected.formUnion(objects.set(object)) }
        }
        return (affected, servicesChanged)
    }

    /// Rebuilds `keys` into `update`; commits owners, contributions, healthCheckNodePorts and names only
    /// when no Service fails.
    /// Services built per thread, at least, when a rebuild splits: a thread costs more than a few builds.
    static let buildsPerPart = 512

    private mutating func rebuild(
        _ keys: Set<ObjectKey>,
        clusterIPs: [ObjectKey: [IPAddress]],
        allocations: ClusterIPAllocations,
        errors earlier: [LocatedError],
        reusing: [VirtualServer.ID: DesiredVirtualServer],
        _ refuse: ([VirtualServer.ID: DesiredVirtualServer]) -> [LocatedError],
        into update: inout Update
    ) throws(ManifestErrors) {
        var errors = earlier
        var claims: [VirtualServer.ID: [ObjectKey]] = [:]
        var built: [ObjectKey: [DesiredVirtualServer]] = [:]
        var ports: [ObjectKey: (port: UInt16, answer: HealthCheckNodePort)] = [:]
        // Each Service's build reads only the objects: a large rebuild (a first load) builds in parts on
        // several threads, and the results are taken in key order, as one pass would give them.
        let sorted = keys.sorted()
        let (objects, options) = (objects, options)
        let parts = InParts.map(count: sorted.count, minimumPerPart: Self.buildsPerPart) { range in
            sorted[range].map { key in
                var built = objects.buildOutcome(key, clusterIPs: clusterIPs[key] ?? [], options: options)
                // Right after each build, so at most one Service's new copy is alive beside the held one.
                if !reusing.isEmpty, case .success(var build?) = built.outcome {
                    build.virtualServers = build.virtualServers.map { new in
                        reusing[new.id].flatMap { $0 == new ? $0 : nil } ?? new
                    }
                    built.outcome = .success(build)
                }
                return (key, built.outcome, built.notes)
            }
        }
        for (key, outcome, notes) in parts.joined() {
            update.notes += notes
            switch outcome {
            case .success(let build?):
                built[key] = build.virtualServers
                for virtualServer in build.virtualServers { claims[virtualServer.id, default: []].append(key) }
                ports[key] = build.healthCheckNodePort
            case .success(nil):
                continue
            case .failure(let error):
                errors.append(error)
            }
        }
        // A virtual server (or healthCheckNodePort) is the first Service's, by namespace and name; each later
        // claimant is an error, as in a whole build.
        for (id, claimants) in claims {
            var all = claimants
            if let owner = owners[id], !keys.contains(owner) { all.append(owner) }
            guard all.count > 1 else { continue }
            all.sort()
            for key in all.dropFirst() {
                errors.append(
                    DesiredStateBuilder.conflict(id, service: objects.services[key]!, owner: objects.services[all[0]]!)
                )
            }
        }
        var portClaims: [UInt16: [ObjectKey]] = [:]
        for (key, entry) in ports { portClaims[entry.port, default: []].append(key) }
        for (port, claimants) in portClaims {
            var all = claimants
            if let owner = healthCheckNodePorts[port],
                case let key = ObjectKey(namespace: owner.namespace, name: owner.name),
                !keys.contains(key)
            {
                all.append(key)
            }
            guard all.count > 1 else { continue }
            all.sort()
            for key in all.dropFirst() {
                let service = objects.services[key]!
                errors.append(
                    LocatedError(
                        file: service.location.file,
                        line: service.location.line,
                        field: "spec.healthCheckNodePort",
                        message: "port \(port) is also the healthCheckNodePort of \(all[0].namespace)/\(all[0].name)"
                    )
                )
            }
        }
        var desired: [VirtualServer.ID: DesiredVirtualServer] = [:]
        for virtualServers in built.values {
            for virtualServer in virtualServers { desired[virtualServer.id] = virtualServer }
        }
        errors += refuse(desired)
        guard errors.isEmpty else { throw ManifestErrors(errors) }

        let portsBefore = healthCheckNodePorts
        for key in keys {
            for id in contributed[key] ?? [] where owners[id] == key {
                owners[id] = nil
                update.changes[id] = .some(nil)
            }
            contributed[key] = built[key].map { $0.map(\.id) }
            if let port = portOwners.removeValue(forKey: key) { healthCheckNodePorts[port] = nil }
        }
        for (id, virtualServer) in desired {
            owners[id] = virtualServer.origin.key
            update.changes[id] = .some(virtualServer)
        }
        for (key, entry) in ports {
            portOwners[key] = entry.port
            healthCheckNodePorts[entry.port] = entry.answer
        }
        update.healthCheckNodePortsChanged = healthCheckNodePorts != portsBefore
        for key in keys {
            let entry = objects.nameEntry(of: key, allocations: allocations)
            if nameEntries[key] != entry {
                nameEntries[key] = entry
                update.namesChanged = true
            }
        }
    }
}

extension ServiceOrigin {
    fileprivate var key: ObjectKey { ObjectKey(namespace: namespace, name: name) }
}

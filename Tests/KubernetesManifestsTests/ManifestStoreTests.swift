import Foundation
import IPVS
import ServiceTables
import TestSupport
import Testing
import YAMLSyntax

@testable import KubernetesManifests

/// The manifest store's incremental reloads reach exactly what a whole load and build of the same files
/// gives (``DesiredStateBuilder``), errors included, over random edit sequences across files.
@Suite struct ManifestStoreTests {
    /// One object as the test writes it.
    enum Object: Hashable {
        /// Service `s<index>`; clusterIP mode 0 unset, 1 static, 2 headless, 3 LoadBalancer with a
        /// healthCheckNodePort (two Services may claim the same port), 4 static IP shared with `s0`.
        case service(index: Int, mode: Int, port: Int)
        /// Slice `e<index>` of Service `s<owner>` with endpoints 10.244.0.<n>.
        case slice(index: Int, owner: Int, endpoints: [Int])
        /// A document with a bad port.
        case broken

        var text: String {
            switch self {
            case .service(let index, let mode, let port):
                let clusterIP =
                    switch mode {
                    case 1: "clusterIP: 10.96.1.\(index)\n  "
                    case 2: "clusterIP: None\n  "
                    case 4: "clusterIP: 10.96.1.0\n  "
                    default: ""
                    }
                let balancer =
                    mode == 3
                    ? "type: LoadBalancer\n  externalTrafficPolicy: Local\n  healthCheckNodePort: \(30000 + index % 2)\n  "
                    : ""
                return """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: s\(index), namespace: ns}
                    spec:
                      \(clusterIP)\(balancer)ports:
                      - {name: http, port: \(port), targetPort: 8080\(mode == 3 ? ", nodePort: \(31000 + index)" : "")}
                    """
            case .slice(let index, let owner, let endpoints):
                let list = endpoints.map { "- addresses: [10.244.0.\($0)]\n  conditions: {ready: \($0 % 3 != 0)}" }
                return """
                    apiVersion: discovery.k8s.io/v1
                    kind: EndpointSlice
                    metadata: {name: e\(index), namespace: ns, labels: {kubernetes.io/service-name: s\(owner)}}
                    addressType: IPv4
                    ports:
                    - {name: http, protocol: TCP, port: 8080}
                    endpoints:\(endpoints.isEmpty ? " []" : "\n" + list.joined(separator: "\n"))
                    """
            case .broken:
                return
                    "apiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: ns}\nspec:\n  ports: [{port: eighty}]"
            }
        }
    }

    static let options = TranslationOptions(
        serviceCIDRs: [IPNetwork("10.96.0.0/29")!],
        nodePortAddresses: [IPAddress("192.0.2.1")!]
    )

    static func randomObject(_ random: inout SplitMix64) -> Object {
        switch Int.random(in: 0..<10, using: &random) {
        case 0: .broken
        case 1...4:
            .service(
                index: Int.random(in: 0..<7, using: &random),
                mode: Int.random(in: 0..<5, using: &random),
                port: [80, 443].randomElement(using: &random)!
            )
        default:
            .slice(
                index: Int.random(in: 0..<8, using: &random),
                owner: Int.random(in: 0..<7, using: &random),
                endpoints: (1...6).filter { _ in Bool.random(using: &random) }
            )
        }
    }

    /// A whole load and build of `path`, as the agent did before the store: the state, or the errors.
    static func whole(
        _ path: String,
        allocations: ClusterIPAllocations
    ) -> Result<
        (state: DesiredState, allocations: ClusterIPAllocations, names: ServiceNameTable), ManifestErrors
    > {
        do throws(ManifestErrors) {
            let set = try ManifestLoader.load(path: path)
            let built = try DesiredStateBuilder.build(set, options: options, allocations: allocations)
            return .success(
                (built.state, built.allocations, ServiceNameTable.build(set, allocations: built.allocations))
            )
        } catch {
            return .failure(error)
        }
    }

    /// A scan reports each file it reads before reading it, with its place among the files read: unchanged
    /// files are neither read nor reported.
    @Test func scanReportsEachFileItReads() throws {
        let root = NSTemporaryDirectory() + "scan-progress-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        for index in 0..<3 {
            try Object.service(index: index, mode: 1, port: 80).text.write(
                toFile: "\(root)/f\(index).yaml",
                atomically: true,
                encoding: .utf8
            )
        }
        // Past the racy window, so the store trusts what it read and the second scan skips those files.
        usleep(UInt32(2 * ManifestStore.racyWindow / 1000))
        var seen: [ManifestStore.ScanProgress] = []
        let first = ManifestStore.scan(root, known: [:]) { seen.append($0) }
        #expect(seen.map(\.file) == (0..<3).map { "\(root)/f\($0).yaml" })
        #expect(seen.map(\.index) == [0, 1, 2] && seen.allSatisfy { $0.count == 3 })
        #expect(seen.map(\.bytes) == first.listing.map(\.size))

        var store = ManifestStore(options: Self.options)
        _ = try store.apply(first)
        try Object.service(index: 1, mode: 1, port: 81).text.write(
            toFile: "\(root)/f1.yaml",
            atomically: true,
            encoding: .utf8
        )
        seen = []
        _ = ManifestStore.scan(root, known: store.versions) { seen.append($0) }
        #expect(seen.map(\.file) == ["\(root)/f1.yaml"] && seen.map(\.count) == [1])
    }

    /// A whole reload built beside the held desired state gives each unchanged virtual server as the held
    /// value itself (its real-server storage shared, not copied), and a changed one as built.
    @Test func aWholeReloadReusesWhatIsUnchanged() throws {
        let root = NSTemporaryDirectory() + "store-reuse-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        func write(_ endpoints: [Int]) throws {
            let objects: [Object] = [
                .service(index: 1, mode: 1, port: 80), .slice(index: 1, owner: 1, endpoints: [1, 2, 4]),
                .service(index: 2, mode: 1, port: 80), .slice(index: 2, owner: 2, endpoints: endpoints),
            ]
            try objects.map(\.text).joined(separator: "\n---\n").write(
                toFile: root + "/all.yaml",
                atomically: true,
                encoding: .utf8
            )
        }
        func storage(_ server: DesiredVirtualServer?) -> UnsafeRawPointer? {
            server?.realServers.values.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        }
        try write([5, 7])
        var first = ManifestStore(options: Self.options)
        let held = try first.apply(ManifestStore.scan(root, known: [:])).changes.compactMapValues { $0 }
        #expect(held.count == 2)

        try write([5, 8])
        var again = ManifestStore(options: Self.options, allocations: first.allocations)
        let reloaded = try again.apply(ManifestStore.scan(root, known: [:]), reusing: held).changes
            .compactMapValues { $0 }
        var fresh = ManifestStore(options: Self.options, allocations: first.allocations)
        let built = try fresh.apply(ManifestStore.scan(root, known: [:])).changes.compactMapValues { $0 }
        #expect(reloaded == built)
        let unchanged = try #require(held.keys.first { held[$0]?.origin.name == "s1" })
        let changed = try #require(held.keys.first { held[$0]?.origin.name == "s2" })
        #expect(storage(reloaded[unchanged]) != nil && storage(reloaded[unchanged]) == storage(held[unchanged]))
        #expect(storage(built[unchanged]) != storage(held[unchanged]))
        #expect(reloaded[changed] != held[changed])
        #expect(storage(reloaded[changed]) != storage(held[changed]))
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomEditsReachWhatAWholeBuildGives(seed: UInt64) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var random = SplitMix64(seed: seed)
        var files: [Int: [Object]] = [:]
        var store = ManifestStore(options: Self.options)
        var desired: [VirtualServer.ID: DesiredVirtualServer] = [:]
        var (successes, failures, cached) = (0, 0, 0)
        // Files edited since the last load the store accepted: a refused load commits nothing, so the next
        // scan reads them again.
        var sinceGood = Set<Int>()
        for step in 0..<40 {
            // Edit one to three files: add, drop or replace objects, or remove the file.
            var edited = Set<Int>()
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let file = Int.random(in: 0..<6, using: &random)
                edited.insert(file)
                sinceGood.insert(file)
                var objects = files[file] ?? []
                switch Int.random(in: 0..<8, using: &random) {
                case 0: objects = []
                case 1, 2:
                    if !objects.isEmpty { objects.remove(at: Int.random(in: 0..<objects.count, using: &random)) }
                case 3, 4:
                    if !objects.isEmpty {
                        objects[Int.random(in: 0..<objects.count, using: &random)] = Self.randomObject(&random)
                    }
                default: objects.append(Self.randomObject(&random))
                }
                // A broken document only now and then, or most loads would fail.
                if step % 5 != 0 { objects.removeAll { $0 == .broken } }
                files[file] = objects.isEmpty ? nil : objects
            }
            for file in edited {
                let path = "\(root)/f\(file).yaml"
                if let objects = files[file] {
                    try objects.map(\.text).joined(separator: "\n---\n").write(
                        toFile: path,
                        atomically: true,
                        encoding: .utf8
                    )
                } else {
                    try? FileManager.default.removeItem(atPath: path)
                }
            }
            // Past the racy window, so unchanged files are not read again.
            usleep(UInt32(2 * ManifestStore.racyWindow / 1000))

            let expected = Self.whole(root, allocations: store.allocations)
            let scan = ManifestStore.scan(root, known: store.versions)
            if scan.parsedFiles < files.count { cached += 1 }
            let present = sinceGood.filter { files[$0] != nil }.count
            #expect(scan.parsedFiles == present, "step \(step): exactly the files edited since the last good load")
            do throws(ManifestErrors) {
                let update = try store.apply(scan)
                for (id, value) in update.changes { desired[id] = value }
                guard case .success(let whole) = expected else {
                    Issue.record("step \(step): the store accepted what a whole load refuses: \(expected)")
                    return
                }
                successes += 1
                sinceGood = []
                #expect(desired == whole.state.virtualServers, "step \(step)")
                #expect(store.healthCheckNodePorts == whole.state.healthCheckNodePorts, "step \(step)")
                #expect(store.allocations == whole.allocations, "step \(step)")
                #expect(store.names == whole.names, "step \(step)")

                // A full rebuild (a fresh store) reaches the same.
                var fresh = ManifestStore(options: Self.options, allocations: store.allocations)
                let full = try fresh.apply(ManifestStore.scan(root, known: [:]))
                #expect(full.changes.compactMapValues { $0 } == desired, "step \(step)")
            } catch {
                guard case .failure(let wholeErrors) = expected else {
                    Issue.record("step \(step): the store refused what a whole load accepts: \(error)")
                    return
                }
                failures += 1
                // The same problems (a whole load stops decoding a duplicate, so it may report fewer).
                #expect(Set(wholeErrors.errors).isSubset(of: Set(error.errors)), "step \(step)")
            }
        }
        // The sequence exercised both outcomes and the cache.
        #expect(successes > 0 && failures > 0 && cached > 0)
    }
}

import Foundation
import IPVS
import KubernetesManifests
import ServiceTables
import Testing

/// Parses `text` and builds the state, failing the test with the errors when either step throws.
func buildState(
    _ text: String,
    options: TranslationOptions = TranslationOptions(),
    allocations: ClusterIPAllocations = ClusterIPAllocations()
) throws -> (state: DesiredState, allocations: ClusterIPAllocations, notes: [String]) {
    let set = try ManifestLoader.parse(text, file: "test.yaml")
    return try DesiredStateBuilder.build(set, options: options, allocations: allocations)
}

/// Loads deploy/examples/manifests, the directory the README's demo runs, and builds the state.
func buildExampleState(
    allocations: ClusterIPAllocations = ClusterIPAllocations()
) throws -> (state: DesiredState, allocations: ClusterIPAllocations, notes: [String]) {
    let set = try ManifestLoader.load(path: repositoryPath("deploy/examples/manifests"))
    return try DesiredStateBuilder.build(set, options: TranslationOptions(), allocations: allocations)
}

/// The absolute path of a repository file, found from this file's path so the working directory does not
/// matter. (TestSupport has the same helper; this target does not depend on it.)
func repositoryPath(_ relativePath: String) -> String {
    var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while directory.path != "/",
        !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path)
    {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent(relativePath).path
}

/// The error descriptions a parse produces; empty when it succeeds.
func parseErrors(_ text: String, file: String = "test.yaml") -> [String] {
    do throws(ManifestErrors) {
        _ = try ManifestLoader.parse(text, file: file)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

/// The error descriptions a parse and build produce; empty when both succeed.
func buildErrors(_ text: String, options: TranslationOptions = TranslationOptions()) -> [String] {
    do throws(ManifestErrors) {
        let set = try ManifestLoader.parse(text, file: "test.yaml")
        _ = try DesiredStateBuilder.build(set, options: options, allocations: ClusterIPAllocations())
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

func ip(_ text: String) -> IPAddress { IPAddress(text)! }

func tcp(_ address: String, _ port: UInt16) -> VirtualServer.ID { .service(.tcp, ip(address), port: port) }

func rs(_ address: String, _ port: UInt16) -> RealServer.ID { RealServer.ID(address: ip(address), port: port) }

/// `address:port` of every real server of a virtual server, sorted.
func realServerList(_ vs: DesiredVirtualServer?) -> [String] {
    (vs?.realServers.keys.sorted() ?? []).map(\.description)
}

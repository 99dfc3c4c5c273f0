import Foundation
import KubernetesManifests
import TestSupport
import Testing

/// Until the libFuzzer target runs in Tests/run-tests: mangled copies of the shipped examples must come back
/// as a result or as located errors, never as a trap.
@Suite struct MutationSmokeTests {
    @Test func mangledExamplesGiveLocatedErrorsOrAResult() throws {
        let seed = try ["services.yaml", "endpointslices.yaml"].map {
            try String(contentsOfFile: repositoryPath("deploy/examples/manifests/\($0)"), encoding: .utf8)
        }.joined(separator: "---\n")
        let alphabet = Array(" \n-:[]{},*&!?|>#'\"0123456789abcxyz.:/\\".utf8)
        var generator = SplitMix64(seed: 42)  // every run tries the same inputs
        for _ in 0..<300 {
            var bytes = Array(seed.utf8)
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[index] = alphabet.randomElement(using: &generator)!
                case 1: bytes.insert(alphabet.randomElement(using: &generator)!, at: index)
                default: if bytes.count > 1 { bytes.remove(at: index) }
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            do throws(ManifestErrors) {
                let set = try ManifestLoader.parse(text, file: "m.yaml")
                _ = try DesiredStateBuilder.build(
                    set,
                    options: TranslationOptions(),
                    allocations: ClusterIPAllocations()
                )
            } catch {
                #expect(!error.errors.isEmpty)
                #expect(error.errors.allSatisfy { $0.file == "m.yaml" || $0.file.hasSuffix(".yaml") }, "\(error)")
            }
        }
    }
}

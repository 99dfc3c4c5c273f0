import Agent
import Foundation
import TestSupport
import Testing

/// The fuzzers' seeds in Tests/Fuzz/Corpus start from valid inputs, so mutations reach past the first check.
@Suite struct FuzzSeedTests {
    @Test(arguments: ["example.yaml", "every-key.yaml", "grpc.yaml", "kubernetes-configmap.yaml"])
    func configSeedsParse(name: String) throws {
        let text = try RepositoryFiles.text("Tests/Fuzz/Corpus/config/\(name)")
        _ = try AgentConfiguration.parse(text, file: name)
    }

    @Test(arguments: ["empty.json", "two-owned.json"])
    func stateFileSeedsDecode(name: String) throws {
        let text = try RepositoryFiles.text("Tests/Fuzz/Corpus/state-file/\(name)")
        let state = try JSONDecoder().decode(AgentState.self, from: Data(text.utf8))
        _ = try state.ownedIDs()
    }
}

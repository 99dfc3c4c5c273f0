import Agent
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 15: an agent error keeps its cause instead of flattening it into text.
@Suite struct AgentErrorTests {
    @Test func theDescriptionIsTheMessageThenTheCause() {
        let cause = SystemCallError(errno: EACCES)
        let error = AgentError(.stateFile, "state file /x", cause: cause)
        #expect(error.description == "state file /x: Permission denied")
        #expect(AgentError(.configuration, "NODE_NAME: too long").description == "NODE_NAME: too long")
    }

    @Test func aStateFileErrorKeepsItsErrno() throws {
        // A path under a regular file: open fails with ENOTDIR, which is neither "missing" nor "unsafe".
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("agent-error-\(getpid())").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        defer { unlink(file) }
        let error = #expect(throws: AgentError.self) { _ = try AgentStateFile(path: file + "/state.json").load() }
        #expect(error?.code == .stateFile)
        #expect((error?.cause as? SystemCallError)?.errno == ENOTDIR)
        #expect(error?.description.hasSuffix(": Not a directory") == true)
    }
}

import Foundation
import IPVS
import Testing

/// Long restores show progress on a terminal, and nothing extra when standard error is a pipe or file, so
/// scripts see exactly ipvsadm's output.
@Suite(.enabled(if: KernelTests.enabled))
struct IPVSCtlProgressTests {
    @Test func restoreShowsProgressOnATerminalOnly() throws {
        let rules = (0..<1000).map { "-A -t 10.2.\($0 / 250).\($0 % 250 + 1):80 -s rr" }.joined(separator: "\n") + "\n"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(getpid()).rules")
        try rules.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }

        // `script` gives ipvsctl a terminal; its output (stdout and stderr both) comes back on our stdout.
        let terminal = try KernelSandbox().script("script -qec \"$IPVSCTL -R < \(file.path)\" /dev/null")
        #expect(terminal.status == 0)
        #expect(terminal.stdout.contains("applied 1000/1000 operations"))

        let piped = try KernelSandbox().script("$IPVSCTL -R < \(file.path)")
        #expect(piped == CommandResult(status: 0, stdout: "", stderr: ""))
    }
}

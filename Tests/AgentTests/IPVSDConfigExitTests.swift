import Foundation
import TestSupport
import Testing

/// `ipvsd` with a bad config: every error on standard error, exit status 1, no usage text (issue 10, item 9).
@Suite struct IPVSDConfigExitTests {
    private func run(_ arguments: [String], config: String) throws -> ChildProcessResult {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("ipvsd-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).yaml").path
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ChildProcess.run(ChildProcess.builtProduct("ipvsd"), arguments + ["--config", path])
    }

    // `run` and `cleanup` load the config through the same CommonOptions.loadConfiguration; they are not
    // run here because, were the config ever accepted, they would act on the host's kernel.
    @Test func badConfigExitsOneWithEveryErrorAndNoUsage() throws {
        let result = try run(["check"], config: "scheduler: nosuch\nresyncPeriod: 1ns\nstateFile: /dev/null\n")
        #expect(result.status == 1, "\(result)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(
            lines.contains {
                $0.hasSuffix(
                    ":1: scheduler: must be one of the kernel's IPVS schedulers rr, wrr, lc, "
                        + "wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos, got \"nosuch\""
                )
            },
            "\(result)"
        )
        #expect(lines.contains { $0.hasSuffix(":2: resyncPeriod: must be from 1s to 24h, got 1ns") }, "\(result)")
        #expect(
            lines.contains { $0.hasSuffix(":3: stateFile: must not be under /dev, got \"/dev/null\"") },
            "\(result)"
        )
        #expect(!result.stderr.contains("Usage:"), "\(result)")
        #expect(!result.stdout.contains("Usage:"), "\(result)")
    }

    @Test func emptyManifestsOverrideExitsOne() throws {
        let result = try run(["check", "--manifests", ""], config: "scheduler: rr\n")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("--manifests: must be a file or directory path"), "\(result)")
        #expect(!result.stderr.contains("Usage:"), "\(result)")
    }
}

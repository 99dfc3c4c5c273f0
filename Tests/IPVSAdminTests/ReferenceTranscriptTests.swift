import IPVS
import IPVSAdmin
import TestSupport
import Testing

/// Replays a transcript recorded from real ipvsadm 1.31 (Linux 6.1, in the VM) against ipvsctl's
/// ipvsadm mode over the fake kernel: same stdout, same stderr, same exit status, command after command.
@Suite struct ReferenceTranscriptTests {
    /// Cases whose output depends on things the fake does not model, or on the program name.
    static let skipped: Set<String> = [
        "-h", "-v",
        "-L -n --nosort",  // kernel hash order
    ]

    @Test func transcriptMatchesIpvsadm() {
        let cases = ReferenceCase.load("ipvsadm-1.31-reference.txt")
        #expect(cases.count > 100)
        let admin = IPVSAdmin(kernel: FakeKernel(), resolver: FixtureResolver(), programName: "ipvsadm")
        var compared = 0
        for reference in cases {
            let output = admin.run(reference.arguments)
            if Self.skipped.contains(reference.testDescription) { continue }
            compared += 1
            #expect(output.stdout == reference.stdout, "stdout of \(reference.testDescription)")
            #expect(withoutHints(output.stderr) == reference.stderr, "stderr of \(reference.testDescription)")
            #expect(output.status == reference.status, "status of \(reference.testDescription)")
        }
        #expect(compared > 100)
    }

    @Test func helpIsIpvsadmsBelowTheVersionLine() throws {
        let reference = try #require(ReferenceCase.load("ipvsadm-1.31-reference.txt").first { $0.arguments == ["-h"] })
        let admin = IPVSAdmin(kernel: FakeKernel(), programName: "ipvsadm")
        let output = admin.run(["-h"])
        #expect(output.stdout.split(separator: "\n").dropFirst() == reference.stdout.split(separator: "\n").dropFirst())
        #expect(output.stdout.hasPrefix("ipvsadm v1.0.0 (ipvsadm v1.31 compatible, IPVS v1.2.1)\n"))
        #expect(output.status == 0)
    }
}

import Foundation
import Testing
import YAMLSyntax

/// The one reader of input files: a limit that holds for files, devices and pipes, and a refusal of what
/// is not a regular file where only one is accepted.
@Suite struct BoundedFileTests {
    @Test func regularFileUpToTheLimit() throws {
        let path = NSTemporaryDirectory() + "bounded-\(getpid())"
        defer { unlink(path) }
        try String(repeating: "a", count: 5000).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try BoundedFile.read(path, limit: 5000).get().count == 5000)
        #expect(BoundedFile.read(path, limit: 4999) == .failure(.tooLarge))
        #expect(try BoundedFile.read(path, limit: 5000, regularOnly: false).get().count == 5000)
    }

    @Test func devicesAreRefusedOrBounded() throws {
        #expect(BoundedFile.read("/dev/zero", limit: 1 << 20) == .failure(.notRegular))
        #expect(BoundedFile.read("/dev/zero", limit: 10_000, regularOnly: false) == .failure(.tooLarge))
        #expect(try BoundedFile.read("/dev/null", limit: 10, regularOnly: false).get() == [])
        #expect(BoundedFile.read("/nonexistent", limit: 10) == .failure(.errno(ENOENT)))
    }

    /// A pipe has no size: its bytes are read to the end, or refused past the limit.
    @Test func pipeIsReadToItsEndWithinTheLimit() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let text = Array("kind: List\n".utf8)
        #expect(write(ends[1], text, text.count) == text.count)
        close(ends[1])
        defer { close(ends[0]) }
        #expect(try BoundedFile.read("/proc/self/fd/\(ends[0])", limit: 100, regularOnly: false).get() == text)
        #expect(BoundedFile.read("/proc/self/fd/\(ends[0])", limit: 100) == .failure(.notRegular))
    }

    @Test func limitsAreNamedAsTheErrorsSayThem() {
        #expect(BoundedFile.describe(limit: 64 << 20) == "64 MiB")
        #expect(BoundedFile.describe(limit: 1 << 20) == "1 MiB")
        #expect(BoundedFile.describe(limit: 99) == "99 bytes")
    }
}

import Foundation
import Testing
import YAMLSyntax

@testable import KubernetesManifests

#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory removed when the test ends.
private final class TemporaryDirectory {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("manifest-files-\(UUID())").path

    init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ relative: String, _ text: String = service("s")) throws {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try text.write(toFile: full, atomically: false, encoding: .utf8)
    }

    func link(_ relative: String, to destination: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path + "/" + relative, withDestinationPath: destination)
    }

    static func service(_ name: String) -> String {
        "apiVersion: v1\nkind: Service\nmetadata: {name: \(name)}\nspec: {ports: [{port: 80}]}\n"
    }
}

/// The error a throwing call produces, or nil.
private func manifestError(_ body: () throws(LocatedError) -> Void) -> LocatedError? {
    do throws(LocatedError) {
        try body()
        return nil
    } catch {
        return error
    }
}

@Suite struct ManifestFilesTests {
    @Test func configMapLayoutIsReadThroughItsSymlinksOnce() throws {
        // What the kubelet makes of a ConfigMap volume: real files in a hidden timestamped directory, `..data`
        // pointing at it, and visible names pointing through `..data`.
        let dir = try TemporaryDirectory()
        try dir.write("..2024_01_01/services.yaml", TemporaryDirectory.service("web"))
        try dir.link("..data", to: "..2024_01_01")
        try dir.link("services.yaml", to: "..data/services.yaml")
        let listing = try ManifestFiles.list(dir.path)
        #expect(listing.files.map(\.path) == [dir.path + "/services.yaml"])
        #expect(listing.notes.isEmpty)
        #expect(try ManifestLoader.load(path: dir.path).services.map(\.name) == ["web"])
    }

    @Test func danglingSymlinkIsALocatedNote() throws {
        let dir = try TemporaryDirectory()
        try dir.write("a.yaml")
        try dir.link("gone.yaml", to: "nowhere.yaml")
        let set = try ManifestLoader.load(path: dir.path)
        #expect(set.services.map(\.name) == ["s"])
        #expect(set.notes == ["\(dir.path)/gone.yaml: dangling symlink, skipped"])
    }

    @Test func symlinkLoopsTerminate() throws {
        let dir = try TemporaryDirectory()
        try dir.write("sub/a.yaml")
        try dir.link("sub/up", to: "..")
        try dir.link("self.yaml", to: "self.yaml")
        let listing = try ManifestFiles.list(dir.path)
        #expect(listing.files.map(\.path) == [dir.path + "/sub/a.yaml"])
        #expect(
            listing.notes.sorted() == [
                "\(dir.path)/self.yaml: symlink loop, skipped",
                "\(dir.path)/sub/up: symlink to a directory above it, skipped",
            ]
        )
    }

    @Test func nestingBeyondTheLimitIsAnError() throws {
        let dir = try TemporaryDirectory()
        let deep = (0...ManifestFiles.maxDepth).map { "d\($0)" }.joined(separator: "/")
        try dir.write(deep + "/a.yaml")
        let error = try #require(manifestError { () throws(LocatedError) in _ = try ManifestFiles.list(dir.path) })
        #expect(error.message == "is nested deeper than \(ManifestFiles.maxDepth) directories")
        #expect(error.file == dir.path + "/" + deep)
    }

    @Test func fifoNamedLikeAManifestIsAnErrorNotABlockingRead() throws {
        let dir = try TemporaryDirectory()
        try dir.write("a.yaml")
        #expect(mkfifo(dir.path + "/pipe.yaml", 0o644) == 0)
        let error = try #require(manifestError { () throws(LocatedError) in _ = try ManifestFiles.list(dir.path) })
        #expect(error.description == "\(dir.path)/pipe.yaml: is not a regular file or directory")
        // Read directly, it fails at once instead of blocking on a writer.
        let readError = try #require(
            manifestError { () throws(LocatedError) in _ = try ManifestFiles.read(dir.path + "/pipe.yaml") }
        )
        #expect(readError.message == "is not a regular file")
    }

    @Test func missingRootIsAnErrorNamingErrno() {
        let error = manifestError { () throws(LocatedError) in _ = try ManifestFiles.list("/nonexistent/manifests") }
        #expect(error?.description == "/nonexistent/manifests: No such file or directory (ENOENT)")
    }

    /// Listing failures root cannot provoke on a real file system, injected where opendir/readdir report
    /// them: each must fail the load, never shrink it.
    @Test(arguments: [EACCES, EMFILE, EIO])
    func unlistableDirectoryIsAnError(code: Int32) throws {
        let dir = try TemporaryDirectory()
        try dir.write("a.yaml")
        try dir.write("sub/b.yaml")
        var system = FileSystemCalls.live
        let failing = dir.path + "/sub"
        system.entries = { path in
            path == failing ? .failure(FileSystemCalls.Errno(code: code)) : FileSystemCalls.live.entries(path)
        }
        let error = try #require(
            manifestError { () throws(LocatedError) in _ = try ManifestFiles.list(dir.path, system: system) }
        )
        #expect(error.description == "\(failing): cannot be listed: \(ManifestFiles.describe(code))")
        #expect(ManifestFiles.describe(EMFILE) == "Too many open files (EMFILE)")
    }

    @Test func unreadableFileIsAnErrorAndFailsTheLoad() throws {
        var system = FileSystemCalls.live
        system.read = { _, _ in .failure(.errno(EIO)) }
        let error = manifestError { () throws(LocatedError) in
            _ = try ManifestFiles.read("/etc/hostname", system: system)
        }
        #expect(error?.description == "/etc/hostname: cannot be read: Input/output error (EIO)")
    }

    @Test func fileOverTheSizeLimitIsAnError() throws {
        let dir = try TemporaryDirectory()
        try dir.write("big.yaml", String(repeating: "#", count: 100))
        var system = FileSystemCalls.live
        system.read = { path, limit in BoundedFile.read(path, limit: limit) }
        let error = manifestError { () throws(LocatedError) in
            _ = try ManifestFiles.read(dir.path + "/big.yaml", system: system, limit: 99)
        }
        #expect(error?.message == "is larger than 99 bytes, the manifest file size limit")
        #expect(try ManifestFiles.read(dir.path + "/big.yaml", system: system, limit: 100).utf8.count == 100)
        #expect(ManifestFiles.maxFileSize == 64 << 20)
    }

    @Test func listingReportsSizeAndChangesWhenAFileIsReplaced() throws {
        let dir = try TemporaryDirectory()
        try dir.write("a.yaml", "x: 1\n")
        let before = try ManifestFiles.list(dir.path).files
        #expect(before.map(\.size) == [5])
        try dir.write("a.yaml", "x: 12\n")
        #expect(try ManifestFiles.list(dir.path).files != before)
    }
}

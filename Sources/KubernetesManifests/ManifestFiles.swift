import IPVS
import YAMLSyntax

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One manifest file found by `ManifestFiles.list`: what `stat` says after following symlinks, so a
/// ConfigMap update (which swaps the `..data` link the visible names point through) changes it.
public struct ManifestFile: Sendable, Hashable {
    /// The path as the walker built it from the root it was given.
    public var path: String
    public var size: Int64
    /// Modification time since the epoch, in nanoseconds.
    public var modified: Int64
    public var device: UInt64
    public var inode: UInt64
    /// Status change time (ctime) in nanoseconds: a rewrite that keeps size and sets the mtime back still
    /// changes it, so ``ManifestStore`` never keeps a stale parse.
    public var statusChanged: Int64

    public init(path: String, size: Int64, modified: Int64, device: UInt64, inode: UInt64, statusChanged: Int64 = 0) {
        self.path = path
        self.size = size
        self.modified = modified
        self.device = device
        self.inode = inode
        self.statusChanged = statusChanged
    }
}

/// Finds and reads manifest files. A path that cannot be listed or read is an error, never an empty set:
/// an empty set means "no Services", and the agent would delete every virtual server it owns.
///
/// The loader and the agent's change watcher both list through here, so they agree on what the files are.
public enum ManifestFiles {
    /// The largest manifest file read, 64 MiB: some 250,000 Services in kubectl's JSON, far beyond a node's
    /// needs, and small enough that a stray large file fails with a clear error instead of exhausting memory.
    public static let maxFileSize = 64 << 20
    /// The deepest directory nesting walked below the root; deeper is an error (it is a loop or a mistake).
    public static let maxDepth = 32
    /// Extensions of the files a directory walk returns.
    public static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// Lists the manifest files at `path`: the file itself, or every `.yaml`, `.yml` and `.json` file under
    /// the directory, recursively, in path order. Entries whose names start with `.` are skipped (a
    /// ConfigMap volume keeps its real files under `..data`; the visible names are symlinks to them, and
    /// symlinks are followed). Dangling symlinks and symlink loops are skipped with a note each.
    /// - Throws: a located error when a directory cannot be listed, an entry cannot be examined, an entry
    ///   with a manifest extension is neither a regular file nor a directory, or the nesting is too deep.
    public static func list(_ path: String) throws(LocatedError) -> (files: [ManifestFile], notes: [String]) {
        try list(path, system: .live)
    }

    /// Reads a manifest file as UTF-8 text, at most `maxFileSize` bytes.
    /// - Throws: a located error naming the errno when it cannot be opened or read, or when it is too large,
    ///   not a regular file, or not UTF-8.
    public static func read(_ path: String) throws(LocatedError) -> String {
        try read(path, system: .live)
    }

    static func list(
        _ path: String,
        system: FileSystemCalls
    ) throws(LocatedError) -> (files: [ManifestFile], notes: [String]) {
        let root = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let status: FileStatus
        switch system.stat(root) {
        case .success(let value): status = value
        case .failure(let error):
            throw LocatedError(file: root, line: nil, field: "", message: describe(error.code))
        }
        guard status.kind == .directory else {
            guard status.kind == .regular else {
                throw LocatedError(file: root, line: nil, field: "", message: "is not a regular file or directory")
            }
            return ([status.file(root)], [])
        }
        var walk = Walk(system: system)
        try walk.directory(root, identity: status.identity, depth: 0)
        return (walk.files.sorted { $0.path < $1.path }, walk.notes)
    }

    static func read(
        _ path: String,
        system: FileSystemCalls,
        limit: Int = maxFileSize
    ) throws(LocatedError) -> String {
        let bytes: [UInt8]
        switch system.read(path, limit) {
        case .success(let value): bytes = value
        case .failure(.tooLarge):
            let size = BoundedFile.describe(limit: limit)
            throw LocatedError(
                file: path,
                line: nil,
                field: "",
                message: "is larger than \(size), the manifest file size limit"
            )
        case .failure(.notRegular):
            throw LocatedError(file: path, line: nil, field: "", message: "is not a regular file")
        case .failure(.errno(let code)):
            throw LocatedError(file: path, line: nil, field: "", message: "cannot be read: \(describe(code))")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw LocatedError(file: path, line: nil, field: "", message: "is not UTF-8 text")
        }
        return text
    }

    /// `Permission denied (EACCES)`.
    static func describe(_ code: Int32) -> String { IPVSError.describe(errno: code) }
}

/// The state of one directory walk.
private struct Walk {
    let system: FileSystemCalls
    var files: [ManifestFile] = []
    var notes: [String] = []
    /// The directories from the root to the current one: a symlink back to one of them is a loop.
    var ancestors: [FileStatus.Identity] = []

    init(system: FileSystemCalls) { self.system = system }

    mutating func directory(_ path: String, identity: FileStatus.Identity, depth: Int) throws(LocatedError) {
        guard depth <= ManifestFiles.maxDepth else {
            throw LocatedError(
                file: path,
                line: nil,
                field: "",
                message: "is nested deeper than \(ManifestFiles.maxDepth) directories"
            )
        }
        let names: [String]
        switch system.entries(path) {
        case .success(let value): names = value
        case .failure(let error):
            throw LocatedError(
                file: path,
                line: nil,
                field: "",
                message: "cannot be listed: \(ManifestFiles.describe(error.code))"
            )
        }
        ancestors.append(identity)
        defer { ancestors.removeLast() }
        for name in names where !name.hasPrefix(".") {
            try entry(path == "/" ? "/" + name : path + "/" + name, name: name, depth: depth)
        }
    }

    private mutating func entry(_ path: String, name: String, depth: Int) throws(LocatedError) {
        let status: FileStatus
        switch system.stat(path) {
        case .success(let value): status = value
        case .failure(let error) where error.code == ENOENT || error.code == ELOOP:
            // After its name was listed, only a symlink fails this way (or an entry removed since: skipped).
            guard case .success(let link) = system.lstat(path), link.kind == .symlink else { return }
            notes.append("\(path): \(error.code == ENOENT ? "dangling symlink" : "symlink loop"), skipped")
            return
        case .failure(let error):
            throw LocatedError(
                file: path,
                line: nil,
                field: "",
                message: "cannot be examined: \(ManifestFiles.describe(error.code))"
            )
        }
        let isManifest = ManifestFiles.extensions.contains(Self.pathExtension(name))
        switch status.kind {
        case .directory:
            guard !ancestors.contains(status.identity) else {
                notes.append("\(path): symlink to a directory above it, skipped")
                return
            }
            try directory(path, identity: status.identity, depth: depth + 1)
        case .regular:
            if isManifest { files.append(status.file(path)) }
        case .symlink, .other:
            guard isManifest else { return }
            throw LocatedError(file: path, line: nil, field: "", message: "is not a regular file or directory")
        }
    }

    /// The lowercased text after the last `.`, or empty.
    private static func pathExtension(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return name[name.index(after: dot)...].lowercased()
    }
}

/// What the walker needs from `stat`.
struct FileStatus: Sendable {
    enum Kind: Sendable { case regular, directory, symlink, other }
    struct Identity: Sendable, Hashable {
        var device: UInt64
        var inode: UInt64
    }

    var kind: Kind
    var size: Int64
    var modified: Int64
    var identity: Identity
    var statusChanged: Int64 = 0

    func file(_ path: String) -> ManifestFile {
        ManifestFile(
            path: path,
            size: size,
            modified: modified,
            device: identity.device,
            inode: identity.inode,
            statusChanged: statusChanged
        )
    }
}

/// The system calls the walker and reader make, as values so tests can inject the failures root cannot
/// provoke on a real file system (EACCES on a directory, EMFILE, EIO).
struct FileSystemCalls: Sendable {
    /// The names in a directory, without `.` and `..`; errno on failure.
    var entries: @Sendable (String) -> Result<[String], Errno>
    /// `stat`, following symlinks.
    var stat: @Sendable (String) -> Result<FileStatus, Errno>
    /// `lstat`.
    var lstat: @Sendable (String) -> Result<FileStatus, Errno>
    /// The contents of a regular file of at most `limit` bytes.
    var read: @Sendable (_ path: String, _ limit: Int) -> Result<[UInt8], BoundedFile.Failure>

    struct Errno: Error, Sendable { var code: Int32 }

    static let live = FileSystemCalls(
        entries: liveEntries,
        stat: { path in liveStat(path, follow: true) },
        lstat: { path in liveStat(path, follow: false) },
        read: { path, limit in BoundedFile.read(path, limit: limit) }
    )
}

private func liveEntries(_ path: String) -> Result<[String], FileSystemCalls.Errno> {
    guard let directory = opendir(path) else { return .failure(FileSystemCalls.Errno(code: errno)) }
    defer { closedir(directory) }
    var names: [String] = []
    while true {
        // readdir returns NULL both at the end and on error; only errno tells them apart.
        errno = 0
        guard let entry = readdir(directory) else {
            if errno != 0 { return .failure(FileSystemCalls.Errno(code: errno)) }
            break
        }
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return .success(names)
}

private func liveStat(_ path: String, follow: Bool) -> Result<FileStatus, FileSystemCalls.Errno> {
    var buffer = stat()
    let result = follow ? stat(path, &buffer) : lstat(path, &buffer)
    guard result == 0 else { return .failure(FileSystemCalls.Errno(code: errno)) }
    return .success(FileStatus(buffer))
}

extension FileStatus {
    init(_ buffer: stat) {
        switch buffer.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        size = Int64(buffer.st_size)
        modified = Self.nanoseconds(buffer.st_mtim)
        statusChanged = Self.nanoseconds(buffer.st_ctim)
        identity = Identity(device: UInt64(buffer.st_dev), inode: UInt64(buffer.st_ino))
    }

    /// Clamped, not multiplied blindly: a hostile timestamp must not trap.
    static func nanoseconds(_ time: timespec) -> Int64 {
        let (nanoseconds, overflow) = Int64(time.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? Int64(time.tv_sec).signum() * .max : nanoseconds &+ Int64(time.tv_nsec)
    }
}

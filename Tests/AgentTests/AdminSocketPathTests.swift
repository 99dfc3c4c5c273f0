import AgentAPI
import Foundation
import Testing

@testable import Agent

/// The admin socket's path and directory (issue 10, item 7): only a socket is replaced, only a directory
/// the agent's user owns and no one else can write is used; the client refuses a socket or directory
/// owned by another user. Tests run as root; `nobody` (65534) owns the hostile cases.
@Suite struct AdminSocketPathTests {
    static let nobody: uid_t = 65534
    static let isRoot = geteuid() == 0

    /// A fresh temporary directory, removed at the end of the test.
    final class Scratch {
        let root: String
        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("adminsock-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            chmod(root, 0o700)
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test func aRegularFileAtThePathIsRefusedAndKept() throws {
        let scratch = try Scratch()
        let path = scratch.root + "/admin.sock"
        try "precious\n".write(toFile: path, atomically: false, encoding: .utf8)
        let error = #expect(throws: AgentError.self) { try AdminServer.prepareSocketPath(path) }
        #expect(error?.description.contains("\(path) exists and is a regular file") == true)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious\n")
    }

    @Test(arguments: ["a directory", "a symbolic link", "a FIFO"])
    func anythingButASocketIsRefused(kind: String) throws {
        let scratch = try Scratch()
        let path = scratch.root + "/admin.sock"
        switch kind {
        case "a directory": #expect(mkdir(path, 0o700) == 0)
        case "a symbolic link": #expect(symlink(scratch.root + "/elsewhere", path) == 0)
        default: #expect(mkfifo(path, 0o600) == 0)
        }
        let error = #expect(throws: AgentError.self) { try AdminServer.prepareSocketPath(path) }
        #expect(error?.description.contains("is \(kind), not a socket") == true)
        var info = stat()
        #expect(lstat(path, &info) == 0, "the path must be left as it was")
    }

    @Test func aStaleSocketIsRemoved() throws {
        let scratch = try Scratch()
        let path = scratch.root + "/admin.sock"
        try bindSocket(at: path)
        try AdminServer.prepareSocketPath(path)
        var info = stat()
        #expect(lstat(path, &info) != 0 && errno == ENOENT)
    }

    @Test func aMissingDirectoryIsCreatedRootOnly() throws {
        let scratch = try Scratch()
        let directory = scratch.root + "/run"
        try AdminServer.prepareSocketPath(directory + "/admin.sock")
        var info = stat()
        #expect(stat(directory, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o700)
        #expect(info.st_uid == geteuid())
    }

    @Test(.enabled(if: isRoot, "chown needs root"))
    func aDirectoryAnotherUserOwnsIsRefused() throws {
        let scratch = try Scratch()
        let directory = scratch.root + "/run"
        #expect(mkdir(directory, 0o755) == 0)
        #expect(chown(directory, Self.nobody, Self.nobody) == 0)
        let error = #expect(throws: AgentError.self) { try AdminServer.prepareSocketPath(directory + "/admin.sock") }
        #expect(error?.description.contains("owned by uid 65534") == true)
    }

    @Test(arguments: [0o777, 0o1777, 0o770, 0o720])
    func aDirectoryGroupOrOthersCanWriteIsRefused(mode: Int) throws {
        let scratch = try Scratch()
        let directory = scratch.root + "/run"
        #expect(mkdir(directory, 0o700) == 0)
        #expect(chmod(directory, mode_t(mode)) == 0)
        let error = #expect(throws: AgentError.self) { try AdminServer.prepareSocketPath(directory + "/admin.sock") }
        #expect(error?.description.contains("writable by group or others") == true)
    }

    @Test func aSymlinkedDirectoryIsRefused() throws {
        let scratch = try Scratch()
        #expect(mkdir(scratch.root + "/real", 0o700) == 0)
        #expect(symlink(scratch.root + "/real", scratch.root + "/run") == 0)
        let error = #expect(throws: AgentError.self) {
            try AdminServer.prepareSocketPath(scratch.root + "/run/admin.sock")
        }
        #expect(error?.description.contains("is a symbolic link, not a directory") == true)
    }

    @Test(.enabled(if: isRoot, "chown needs root"))
    func theClientRefusesASocketAnotherUserOwns() throws {
        let scratch = try Scratch()
        let path = scratch.root + "/admin.sock"
        try bindSocket(at: path)
        #expect(chown(path, Self.nobody, Self.nobody) == 0)
        let error = #expect(throws: AdminSocketError.self) { try AdminSocketClient(path: path).request("GET", "/") }
        #expect(error?.description.contains("the socket is owned by uid 65534") == true)
    }

    @Test(.enabled(if: isRoot, "chown needs root"))
    func theClientRefusesADirectoryAnotherUserOwns() throws {
        let scratch = try Scratch()
        let directory = scratch.root + "/run"
        #expect(mkdir(directory, 0o755) == 0)
        try bindSocket(at: directory + "/admin.sock")
        #expect(chown(directory, Self.nobody, Self.nobody) == 0)
        let error = #expect(throws: AdminSocketError.self) {
            try AdminSocketClient(path: directory + "/admin.sock").request("GET", "/")
        }
        #expect(error?.description.contains("its directory \(directory) is owned by uid 65534") == true)
    }

    @Test func theClientRefusesSomethingThatIsNotASocket() throws {
        let scratch = try Scratch()
        let path = scratch.root + "/admin.sock"
        try "not a socket".write(toFile: path, atomically: false, encoding: .utf8)
        let error = #expect(throws: AdminSocketError.self) { try AdminSocketClient(path: path).request("GET", "/") }
        #expect(error?.description.contains("it is not a socket") == true)
    }

    /// Leaves a bound (then closed) Unix socket at `path`, as a previous run would.
    func bindSocket(at path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let bound = withUnixAddress(path) { bind(fd, $0, $1) }
        guard bound == 0 else { throw RawSocketError("bind \(path): \(String(cString: strerror(errno)))") }
    }
}

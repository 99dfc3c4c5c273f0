import Agent
import Foundation
import Testing

/// The state file is read strictly, and `ipvsd check` reads it exactly as `run` does (issue 10, item 8).
@Suite struct StateFileTests {
    static let isRoot = geteuid() == 0

    private func scratch() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("statefile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root
    }

    @Test func aMissingFileIsAFirstStart() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try AgentStateFile(path: root + "/state.json").load() == .missing)
    }

    @Test func aSavedFileRoundTrips() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var state = AgentState()
        state.setOwned([.service(.tcp, .init("10.96.0.1")!, port: 80)])
        state.setPending([.service(.udp, .init("fd00::1")!, port: 53)])
        state.clusterIPs = ["a/b/IPv4": "10.96.0.1"]
        let file = AgentStateFile(path: root + "/missing/parents/state.json")
        try file.save(state)
        #expect(try file.load() == .valid(state))
        var info = stat()
        #expect(stat(file.path, &info) == 0 && info.st_mode & 0o777 == 0o600)
    }

    /// The file is written by hand (`AgentState.encoded`); whatever it holds must read back equal, as JSON
    /// any parser accepts, with one service per line.
    @Test func theEncodingIsJSONThatReadsBackEqual() throws {
        var state = AgentState()
        #expect(try AgentState.decode(Data(state.encoded())) == state)
        state.setOwned([
            .service(.tcp, .init("10.96.0.1")!, port: 80), .service(.udp, .init("fd00::a")!, port: 53),
            .service(.sctp, .init("10.96.0.2")!, port: 65535),
        ])
        state.setPending([.service(.tcp, .init("10.96.0.3")!, port: 1)])
        state.clusterIPs = [
            "default/web/IPv4": "10.96.0.1", "quote\"back\\slash/x": "tab\tnew\nline\u{1}", "ünï/cødé 🙂": "",
        ]
        let bytes = state.encoded()
        #expect(try AgentState.decode(Data(bytes)) == state)
        #expect(try JSONSerialization.jsonObject(with: Data(bytes)) is [String: Any])
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        #expect(lines.contains(#"    {"protocol": "udp", "address": "fd00::a", "port": 53},"#))
        #expect(lines.contains(#"    "quote\"back\\slash/x": "tab\u0009new\u000aline\u0001","#))
    }

    /// Version 1 files (before the intent record) still load.
    @Test func versionOneLoads() throws {
        let state = try AgentState.decode(
            Data(#"{"version": 1, "owned": [{"protocol": "tcp", "address": "10.96.0.1", "port": 80}]}"#.utf8)
        )
        #expect(state.owned.count == 1 && state.pending.isEmpty && state.version == 2)
    }

    @Test(arguments: [
        (#"{"version": 3, "owned": []}"#, "unknown state file version 3"),
        (#"{"version": 2, "owned": [{"protocol": "icmp", "address": "10.0.0.1", "port": 1}]}"#, "owned service"),
        (#"{"version": 2, "owned": [], "pending": [{"protocol": "tcp", "address": "nope", "port": 1}]}"#, "pending"),
        (#"{"owned": []}"#, "version"),
        ("not json", "not a valid state file"),
    ])
    func invalidContentIsNamed(text: String, expected: String) {
        let error = #expect(throws: AgentError.self) { try AgentState.decode(Data(text.utf8)) }
        #expect(error?.description.contains(expected) == true, "\(error?.description ?? "")")
    }

    /// A corrupt file is set aside (kept for inspection) by `run`, and left alone by `check`, which fails.
    @Test func aCorruptFileIsSetAsideByRunAndReportedByCheck() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/state.json"
        FileManager.default.createFile(
            atPath: path,
            contents: Data("{\"ver".utf8),
            attributes: [.posixPermissions: 0o600]
        )
        var configuration = AgentConfiguration()
        configuration.stateFile = path
        configuration.manifests = root
        let error = #expect(throws: AgentError.self) { _ = try AgentPreview.desiredState(configuration) }
        #expect(error?.description.contains("is corrupt") == true, "\(error?.description ?? "")")
        #expect(FileManager.default.fileExists(atPath: path), "check changes nothing")

        guard case .corrupt(_, let setAside) = try AgentStateFile(path: path).load() else {
            Issue.record("not reported as corrupt")
            return
        }
        #expect(setAside == path + ".corrupt")
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(FileManager.default.fileExists(atPath: path + ".corrupt"))
    }

    /// What the agent cannot trust stops `run` and fails `check` alike.
    @Test(arguments: ["symlink", "directory", "group-writable", "other-owner"])
    func anUnsafeFileIsRefused(kind: String) throws {
        guard kind != "other-owner" || Self.isRoot else { return }
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/state.json"
        let valid = Data(#"{"version": 2, "owned": []}"#.utf8)
        switch kind {
        case "symlink":
            FileManager.default.createFile(atPath: root + "/real.json", contents: valid)
            #expect(symlink(root + "/real.json", path) == 0)
        case "directory":
            #expect(mkdir(path, 0o700) == 0)
        case "group-writable":
            FileManager.default.createFile(atPath: path, contents: valid)
            #expect(chmod(path, 0o620) == 0)
        default:
            FileManager.default.createFile(atPath: path, contents: valid)
            #expect(chmod(path, 0o600) == 0 && chown(path, 65534, 65534) == 0)
        }
        #expect(throws: AgentError.self) { _ = try AgentStateFile(path: path).load() }
        var configuration = AgentConfiguration()
        configuration.stateFile = path
        configuration.manifests = root
        #expect(throws: AgentError.self) { _ = try AgentPreview.desiredState(configuration) }
    }
}

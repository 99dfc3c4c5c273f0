import Foundation
import IPVS

/// What the agent remembers across restarts: the virtual servers it owns, the ones it is about to create,
/// and the cluster IPs it allocated.
///
/// Written atomically (temporary file, fsync, rename, fsync of the directory), so a crash leaves the old or
/// the new file, never half. docs/ipvsd.md ("Failure behaviour") says how ownership survives a crash.
public struct AgentState: Codable, Sendable, Equatable {
    public struct OwnedService: Codable, Sendable, Hashable {
        public var `protocol`: String
        public var address: String
        public var port: UInt16
    }

    public var version: Int = 2
    public var owned: [OwnedService] = []
    /// Services the agent is about to add: written and fsynced before the kernel sees the `addService`, and
    /// cleared once the outcome is recorded. After a crash in between, a pending service found in the kernel
    /// is the agent's own (the intent record is the evidence).
    public var pending: [OwnedService] = []
    /// `namespace/name/IPv4` -> address, as the manifest builder keeps them.
    public var clusterIPs: [String: String] = [:]

    public init() {}

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int.self, forKey: .version)
        guard (1...2).contains(version) else {
            throw DecodingError.dataCorruptedError(
                forKey: .version,
                in: container,
                debugDescription: "unknown state file version \(version)"
            )
        }
        owned = try container.decode([OwnedService].self, forKey: .owned)
        // Version 1 had no intent record.
        pending = try container.decodeIfPresent([OwnedService].self, forKey: .pending) ?? []
        clusterIPs = try container.decodeIfPresent([String: String].self, forKey: .clusterIPs) ?? [:]
        version = 2
    }

    /// The owned virtual servers; entries that do not parse are reported, not silently dropped.
    public func ownedIDs() throws(AgentError) -> Set<VirtualServer.ID> { try Self.ids(owned, "owned") }

    /// The services being added when the file was written.
    public func pendingIDs() throws(AgentError) -> Set<VirtualServer.ID> { try Self.ids(pending, "pending") }

    public mutating func setOwned(_ ids: Set<VirtualServer.ID>) { owned = Self.entries(ids) }
    public mutating func setPending(_ ids: Set<VirtualServer.ID>) { pending = Self.entries(ids) }

    private static func ids(_ entries: [OwnedService], _ field: String) throws(AgentError) -> Set<VirtualServer.ID> {
        var result = Set<VirtualServer.ID>()
        for entry in entries {
            guard let proto = IPProtocol(name: entry.protocol), let address = IPAddress(entry.address) else {
                throw AgentError(
                    .stateFile,
                    "\(field) service \(entry.address):\(entry.port)/\(entry.protocol) is invalid"
                )
            }
            result.insert(.service(proto, address, port: entry.port))
        }
        return result
    }

    private static func entries(_ ids: Set<VirtualServer.ID>) -> [OwnedService] {
        ids.sorted().compactMap { id in
            guard case .service(let proto, let address, let port) = id else { return nil }
            return OwnedService(protocol: proto.description, address: address.description, port: port)
        }
    }

    /// Decodes and validates a state file's bytes (also the fuzzing entry point).
    /// - Throws: ``AgentError`` naming what is wrong.
    public static func decode(_ data: Data) throws(AgentError) -> AgentState {
        let state: AgentState
        do {
            state = try JSONDecoder().decode(AgentState.self, from: data)
        } catch {
            throw AgentError(.stateFile, "not a valid state file: \(Self.describe(error))")
        }
        _ = try state.ownedIDs()
        _ = try state.pendingIDs()
        return state
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context),
            .valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// Reads and writes ``AgentState`` at a path.
public struct AgentStateFile: Sendable {
    /// The largest state file read: 50k owned services take about 5 MB.
    public static let maximumSize = 64 << 20

    public var path: String

    public init(path: String) { self.path = path }

    /// What `load` found.
    public enum Loaded: Sendable, Equatable {
        /// A valid file.
        case valid(AgentState)
        /// No file: a first start, or the file was deleted. Ownership is recovered from the kernel's evidence.
        case missing
        /// The file exists but does not parse (the reason given); it was renamed to `setAside` when that is
        /// not nil. Ownership is recovered from the kernel's evidence.
        case corrupt(reason: String, setAside: String?)

        public var state: AgentState {
            if case .valid(let state) = self { return state }
            return AgentState()
        }
    }

    /// Reads the state file.
    ///
    /// - Parameter setAsideCorrupt: rename a corrupt file to `PATH.corrupt` (kept for inspection) so the next
    ///   save does not overwrite the evidence; `ipvsd check` passes false and changes nothing.
    /// - Throws: ``AgentError`` when the path is unsafe or unreadable (not a regular file, writable by others,
    ///   owned by another user, an I/O error): the agent must not guess what it owns then, so it does not start.
    public func load(setAsideCorrupt: Bool = true) throws(AgentError) -> Loaded {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { return .missing }
            if code == ELOOP {
                throw AgentError(.stateFile, "state file \(path) is a symbolic link; use a regular file")
            }
            throw AgentError.system(.stateFile, "state file \(path): cannot open", errno: code)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw AgentError.system(.stateFile, "state file \(path)")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw AgentError(.stateFile, "state file \(path) is not a regular file")
        }
        guard info.st_uid == geteuid() else {
            throw AgentError(.stateFile, "state file \(path) is owned by uid \(info.st_uid), not by the agent's user")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw AgentError(
                .stateFile,
                "state file \(path) is writable by group or others (mode \(String(info.st_mode & 0o777, radix: 8)))"
            )
        }
        guard info.st_size <= Self.maximumSize else {
            return try setAside(reason: "larger than \(Self.maximumSize >> 20) MiB", enabled: setAsideCorrupt)
        }
        let data = try Self.readAll(fd, size: Int(info.st_size), path: path)
        do throws(AgentError) {
            return .valid(try AgentState.decode(data))
        } catch {
            return try setAside(reason: error.description, enabled: setAsideCorrupt)
        }
    }

    private func setAside(reason: String, enabled: Bool) throws(AgentError) -> Loaded {
        guard enabled else { return .corrupt(reason: reason, setAside: nil) }
        let target = path + ".corrupt"
        guard rename(path, target) == 0 else {
            throw AgentError.system(.stateFile, "state file \(path) is corrupt (\(reason)) and cannot be set aside")
        }
        return .corrupt(reason: reason, setAside: target)
    }

    private static func readAll(_ fd: Int32, size: Int, path: String) throws(AgentError) -> Data {
        var data = Data(capacity: size)
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw AgentError.system(.stateFile, "state file \(path): cannot read")
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[..<count])
            if data.count > maximumSize {
                throw AgentError(.stateFile, "state file \(path) grew past \(maximumSize >> 20) MiB while read")
            }
        }
    }

    /// Writes the state: a temporary file, fsync, rename over the old one, fsync of the directory (so the
    /// rename itself survives a power loss).
    public func save(_ state: AgentState) throws(AgentError) {
        let data = state.encoded()
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            // Missing parents too (a fresh host, a hostPath volume), root-only; open below reports real failures.
            try? FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        }
        let temporary = "\(path).tmp"
        unlink(temporary)  // a leftover from a crash; O_EXCL below refuses anything that reappears
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw AgentError.system(.stateFile, "state file \(temporary)") }
        var failure: Int32?
        let written = data.withUnsafeBytes { bytes -> Int in
            var offset = 0
            while offset < bytes.count {
                let count = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                offset += count
            }
            return offset
        }
        if failure == nil && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == nil && written == data.count && rename(temporary, path) != 0 {
            failure = errno
        }
        guard failure == nil, written == data.count else {
            unlink(temporary)
            guard let failure else { throw AgentError(.stateFile, "state file \(path): short write") }
            throw AgentError.system(.stateFile, "state file \(path)", errno: failure)
        }
        if !directory.isEmpty {
            let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dirfd >= 0 {
                fsync(dirfd)
                close(dirfd)
            }
        }
    }
}

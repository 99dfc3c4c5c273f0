import Foundation
import IPVS

/// What the agent remembers across restarts: the virtual servers it owns and the cluster IPs it allocated.
///
/// Written atomically (temporary file, fsync, rename), so a crash leaves the old or the new file, never half.
public struct AgentState: Codable, Sendable, Equatable {
    public struct OwnedService: Codable, Sendable, Hashable {
        public var `protocol`: String
        public var address: String
        public var port: UInt16
    }

    public var version: Int = 1
    public var owned: [OwnedService] = []
    /// `namespace/name/IPv4` -> address, as the manifest builder keeps them.
    public var clusterIPs: [String: String] = [:]

    public init() {}

    /// The owned virtual servers; entries that do not parse are reported, not silently dropped.
    public func ownedIDs() throws(AgentError) -> Set<VirtualServer.ID> {
        var result = Set<VirtualServer.ID>()
        for entry in owned {
            guard let proto = IPProtocol(name: entry.protocol), let address = IPAddress(entry.address) else {
                throw AgentError(
                    "state file: owned service \(entry.address):\(entry.port)/\(entry.protocol) is invalid"
                )
            }
            result.insert(.service(proto, address, port: entry.port))
        }
        return result
    }

    public mutating func setOwned(_ ids: Set<VirtualServer.ID>) {
        owned = ids.sorted().compactMap { id in
            guard case .service(let proto, let address, let port) = id else { return nil }
            return OwnedService(protocol: proto.description, address: address.description, port: port)
        }
    }
}

/// Reads and writes ``AgentState`` at a path.
public struct AgentStateFile: Sendable {
    public var path: String

    public init(path: String) { self.path = path }

    /// The saved state, or an empty one when the file does not exist yet.
    public func load() throws(AgentError) -> AgentState {
        guard FileManager.default.fileExists(atPath: path) else { return AgentState() }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return try JSONDecoder().decode(AgentState.self, from: data)
        } catch {
            throw AgentError("state file \(path): \(error)")
        }
    }

    public func save(_ state: AgentState) throws(AgentError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(state) } catch { throw AgentError("state file: \(error)") }
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = "\(path).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AgentError("state file \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == data.count, synced == 0, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw AgentError("state file \(path): \(reason)")
        }
    }
}

/// An agent-level failure with a message that says what and where.
public struct AgentError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

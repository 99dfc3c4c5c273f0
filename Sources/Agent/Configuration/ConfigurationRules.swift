import IPVS
import YAMLSyntax

/// The checks of single config values that are more than a type and a range. Each returns why a value is
/// refused, or nil when it is accepted, so the loader can attach file, line and field.
enum ConfigurationRules {
    /// Longest Unix socket path: `sun_path` holds 108 bytes including the terminating NUL.
    static let maximumSocketPathLength = 107

    /// The kernel's `dev_valid_name` (1 to 15 bytes, not `.` or `..`, no `/`, `:` or white space), plus no
    /// control characters, and never `lo`: the agent binds and removes addresses on this interface.
    static func interfaceProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard (1...15).contains(bytes.count) else { return "must be 1 to 15 bytes long, got \(bytes.count)" }
        guard name != ".", name != ".." else { return "must not be . or .." }
        // The kernel's isspace() also counts 0xA0, which appears inside UTF-8 sequences such as "à".
        let refused: Set<UInt8> = [UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: " "), 0x7F, 0xA0]
        if let byte = bytes.first(where: { $0 < 0x20 || refused.contains($0) }) {
            return "must not contain /, :, white space or control characters, got byte 0x\(hex(byte))"
        }
        guard name != "lo" else { return "must not be lo: the agent adds and removes addresses on this interface" }
        return nil
    }

    /// A node name as Kubernetes accepts it (a DNS subdomain: at most 253 characters of lowercase letters,
    /// digits, `-` and `.`, starting and ending with a letter or digit).
    static func nodeNameProblem(_ name: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")
        guard (1...253).contains(name.count), name.allSatisfy({ allowed.contains($0) }),
            name.first.map({ $0.isLetter || $0.isNumber }) == true,
            name.last.map({ $0.isLetter || $0.isNumber }) == true
        else {
            return "must be a node name (lowercase letters, digits, - and ., at most 253), got \"\(name)\""
        }
        return nil
    }

    /// A zone as a label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and ending
    /// with a letter or digit.
    static func zoneProblem(_ zone: String) -> String? {
        if zone.isEmpty { return nil }
        let ok =
            zone.count <= 63 && zone.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
            && zone.first.map { $0.isLetter || $0.isNumber } == true
            && zone.last.map { $0.isLetter || $0.isNumber } == true
        return ok ? nil : "must be a label value (letters, digits, -, _ and ., at most 63), got \"\(zone)\""
    }

    /// The admin socket: an absolute path that fits `sun_path`, in a directory other than `/`, `/proc`,
    /// `/sys` and `/dev` (the agent sets the directory's mode).
    static func socketPathProblem(_ path: String) -> String? {
        if let problem = absoluteFilePathProblem(path) { return problem }
        guard path.utf8.count <= maximumSocketPathLength else {
            return "must be at most \(maximumSocketPathLength) bytes (sun_path), got \(path.utf8.count)"
        }
        guard normalizedComponents(path).count >= 2 else { return "must be in a directory other than /" }
        return nil
    }

    /// The state file: an absolute path to a regular file outside `/proc`, `/sys` and `/dev`.
    static func stateFileProblem(_ path: String) -> String? { absoluteFilePathProblem(path) }

    private static func absoluteFilePathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "must be an absolute path, got \"\(path)\"" }
        guard !path.utf8.contains(0) else { return "must not contain a NUL byte" }
        let components = normalizedComponents(path)
        let last = path.split(separator: "/").last
        guard !path.hasSuffix("/"), last != ".", last != "..", !components.isEmpty else {
            return "must name a file, not a directory, got \"\(path)\""
        }
        if let top = components.first, ["dev", "proc", "sys"].contains(top) {
            return "must not be under /\(top), got \"\(path)\""
        }
        return nil
    }

    /// The path's components with `.` and `..` applied lexically (symbolic links are a run-time matter).
    private static func normalizedComponents(_ path: String) -> [Substring] {
        var components: [Substring] = []
        for component in path.split(separator: "/") where component != "." {
            if component == ".." { _ = components.popLast() } else { components.append(component) }
        }
        return components
    }

    /// Kubernetes' limit on `--service-cluster-ip-range` (kube-apiserver's validateMaxCIDRRange with 20 host
    /// bits): IPv4 /12 or longer, IPv6 /108 or longer.
    static let maximumServiceCIDRHostBits = 20

    /// Ranges no Service IP may come from: unspecified ("this network"), loopback, link-local, multicast and
    /// broadcast (with the rest of 240.0.0.0/4, which no host routes).
    static let specialNetworks: [(network: IPNetwork, name: String)] = [
        ("0.0.0.0/8", "unspecified"), ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved and broadcast"), ("::/128", "unspecified"),
        ("::1/128", "loopback"), ("fe80::/10", "link-local"), ("ff00::/8", "multicast"),
    ].map { (IPNetwork($0.0)!, $0.1) }

    /// A service CIDR no larger than Kubernetes allows and clear of the special ranges.
    static func serviceCIDRProblem(_ network: IPNetwork) -> String? {
        let bits = network.family == .inet ? 32 : 128
        let minimumPrefix = bits - maximumServiceCIDRHostBits
        guard network.prefixLength >= minimumPrefix else {
            return "is too large: the prefix must be /\(minimumPrefix) or longer, as kube-apiserver requires, "
                + "got \"\(network)\""
        }
        for special in specialNetworks where overlaps(network, special.network) {
            return "must not overlap the \(special.name) range \(special.network), got \"\(network)\""
        }
        return nil
    }

    private static func overlaps(_ a: IPNetwork, _ b: IPNetwork) -> Bool {
        a.family == b.family && (a.contains(b.address) || b.contains(a.address))
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}

/// A domain name as a list of labels, held to RFC 1035's bounds: each label 1 to 63 bytes, the whole name at
/// most 255 bytes on the wire. Labels keep the case they arrived in (a resolver may randomise it and expects it
/// back); equality and hashing ignore ASCII case, as DNS does.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    public static let maxLabelLength = 63
    public static let maxWireLength = 255

    public let labels: [[UInt8]]

    /// The root name, ".".
    public static let root = DNSName(checked: [])

    /// - Throws: ``DNSError`` for an empty label, a label over 63 bytes or a name over 255 bytes.
    public init(labels: [[UInt8]]) throws(DNSError) {
        var length = 1
        for label in labels {
            guard !label.isEmpty else { throw DNSError(.badName, "empty label") }
            guard label.count <= Self.maxLabelLength else {
                throw DNSError(.badName, "label of \(label.count) bytes (at most 63)")
            }
            length += 1 + label.count
        }
        guard length <= Self.maxWireLength else {
            throw DNSError(.badName, "name of \(length) bytes (at most 255)")
        }
        self.labels = labels
    }

    /// Parses dotted text ("web.default.svc.cluster.local", a trailing dot optional; "." is the root). No
    /// escapes: names this project builds come from Kubernetes object names and addresses.
    public init(_ text: String) throws(DNSError) {
        var trimmed = Substring(text)
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        if trimmed.isEmpty {
            self = .root
            return
        }
        try self.init(labels: trimmed.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) })
    }

    private init(checked labels: [[UInt8]]) { self.labels = labels }

    /// Bytes on the wire without compression: a length byte per label, the label, and the root's zero.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// The name without its first label; the root's parent is nil.
    public var parent: DNSName? { labels.isEmpty ? nil : DNSName(checked: Array(labels.dropFirst())) }

    /// `label` prepended, when the result is still a valid name.
    public func prepending(_ label: String) throws(DNSError) -> DNSName {
        try DNSName(labels: [Array(label.utf8)] + labels)
    }

    /// True when this name is `other` or below it.
    public func isSubdomain(of other: DNSName) -> Bool {
        guard labels.count >= other.labels.count else { return false }
        return DNSName(checked: Array(labels.suffix(other.labels.count))) == other
    }

    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        guard lhs.labels.count == rhs.labels.count else { return false }
        for (a, b) in zip(lhs.labels, rhs.labels) {
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where asciiLower(x) != asciiLower(y) { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(labels.count)
        for label in labels {
            hasher.combine(label.count)
            for byte in label { hasher.combine(asciiLower(byte)) }
        }
    }

    /// Presentation form with a trailing dot; bytes other than letters, digits, '-' and '_' as `\DDD`, as
    /// RFC 1035 master files write them, so a hostile name cannot forge a dot or a control character in a log.
    public var description: String {
        guard !labels.isEmpty else { return "." }
        var text = ""
        for label in labels {
            for byte in label {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                    text.unicodeScalars.append(Unicode.Scalar(byte))
                default:
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            text += "."
        }
        return text
    }
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
}

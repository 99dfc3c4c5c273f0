/// The name formats Kubernetes requires (k8s.io/apimachinery `IsDNS1123Label`, `IsDNS1035Label`,
/// `IsDNS1123Subdomain`). They keep `/` out of names, so `namespace/name` keys cannot collide: without them,
/// namespace `a/b` name `c` and namespace `a` name `b/c` would be one Service.
enum ObjectNames {
    enum Rule {
        /// Namespaces: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
        case dns1123Label
        /// Service names: as a DNS-1123 label, but starting with a letter.
        case dns1035Label
        /// EndpointSlice and Endpoints names: DNS-1123 labels joined by `.`, at most 253 characters.
        case dns1123Subdomain
    }

    /// Why `name` breaks `rule`, or nil when it is valid.
    static func problem(_ name: String, _ rule: Rule) -> String? {
        let bytes = Array(name.utf8)
        switch rule {
        case .dns1123Label:
            guard bytes.count <= 63, isLabel(bytes[...]) else {
                return "must be a lowercase RFC 1123 label: at most 63 characters a-z, 0-9 or '-', "
                    + "starting and ending with a letter or digit, got \"\(name)\""
            }
        case .dns1035Label:
            guard bytes.count <= 63, isLabel(bytes[...]), let first = bytes.first, isLower(first) else {
                return "must be a lowercase RFC 1035 label: at most 63 characters a-z, 0-9 or '-', "
                    + "starting with a letter and ending with a letter or digit, got \"\(name)\""
            }
        case .dns1123Subdomain:
            guard bytes.count <= 253,
                bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
                    .allSatisfy(isLabel)
            else {
                return "must be a lowercase RFC 1123 subdomain: at most 253 characters, labels of a-z, 0-9 or "
                    + "'-' separated by '.', each starting and ending with a letter or digit, got \"\(name)\""
            }
        }
        return nil
    }

    private static func isLabel(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let first = bytes.first, let last = bytes.last, isLower(first) || isDigit(first),
            isLower(last) || isDigit(last)
        else { return false }
        return bytes.allSatisfy { isLower($0) || isDigit($0) || $0 == UInt8(ascii: "-") }
    }

    private static func isLower(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) }
    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
}

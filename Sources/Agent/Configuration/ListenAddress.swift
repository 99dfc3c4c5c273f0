import IPVS

/// A TCP listen address from the config file: an IP literal and a port, `127.0.0.1:9750` or `[::1]:9750`.
///
/// Host names are refused: a listener that resolves a name at start can bind somewhere the operator did not
/// mean, and a typo such as `256.0.0.1` would otherwise pass as a name and fail only at run time.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses `IPV4:PORT` or `[IPV6]:PORT`; the port is 1 to 65535 in decimal digits.
    /// - Throws: ``ListenAddress/ParseError`` saying which part is wrong.
    public init(parsing text: String) throws(ParseError) {
        guard let colon = text.lastIndex(of: ":") else { throw ParseError("no :PORT") }
        let hostText = text[..<colon]
        let portText = text[text.index(after: colon)...]
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), (1...65535).contains(port)
        else { throw ParseError("port \"\(portText)\" is not a number from 1 to 65535") }
        let address: IPAddress?
        if hostText.hasPrefix("[") && hostText.hasSuffix("]") && hostText.count >= 2 {
            address = IPAddress(hostText.dropFirst().dropLast()).flatMap { $0.family == .inet6 ? $0 : nil }
            guard address != nil else { throw ParseError("\"\(hostText)\" is not a bracketed IPv6 address") }
        } else {
            // An unbracketed IPv6 address would make the port ambiguous (`::1:80`).
            address = hostText.contains(":") ? nil : IPAddress(hostText)
            guard address != nil else {
                throw ParseError("host \"\(hostText)\" is not an IPv4 address or a bracketed IPv6 address")
            }
        }
        self.init(address: address!, port: UInt16(port))
    }

    /// The host as a listener takes it: the address without brackets.
    public var host: String { address.description }

    public var description: String {
        address.family == .inet6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// Why a listen address does not parse.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

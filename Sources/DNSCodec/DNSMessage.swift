/// A record type (RFC 1035 3.2.2 and later); open to any value, as a message may carry types this code does
/// not know.
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSRecordType(rawValue: 1)
    public static let ns = DNSRecordType(rawValue: 2)
    public static let cname = DNSRecordType(rawValue: 5)
    public static let soa = DNSRecordType(rawValue: 6)
    public static let ptr = DNSRecordType(rawValue: 12)
    public static let aaaa = DNSRecordType(rawValue: 28)
    public static let srv = DNSRecordType(rawValue: 33)
    public static let opt = DNSRecordType(rawValue: 41)
    public static let ixfr = DNSRecordType(rawValue: 251)
    public static let axfr = DNSRecordType(rawValue: 252)
    public static let any = DNSRecordType(rawValue: 255)

    public var description: String {
        switch self {
        case .a: "A"
        case .ns: "NS"
        case .cname: "CNAME"
        case .soa: "SOA"
        case .ptr: "PTR"
        case .aaaa: "AAAA"
        case .srv: "SRV"
        case .opt: "OPT"
        case .ixfr: "IXFR"
        case .axfr: "AXFR"
        case .any: "ANY"
        default: "TYPE\(rawValue)"
        }
    }
}

/// Response codes (RFC 1035 4.1.1, RFC 6891 for the extended BADVERS).
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = DNSResponseCode(rawValue: 0)
    public static let formatError = DNSResponseCode(rawValue: 1)
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    public static let nameError = DNSResponseCode(rawValue: 3)
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    public static let refused = DNSResponseCode(rawValue: 5)
    /// Needs EDNS: its upper bits travel in the OPT record.
    public static let badVersion = DNSResponseCode(rawValue: 16)

    public var description: String {
        switch self {
        case .noError: "NOERROR"
        case .formatError: "FORMERR"
        case .serverFailure: "SERVFAIL"
        case .nameError: "NXDOMAIN"
        case .notImplemented: "NOTIMP"
        case .refused: "REFUSED"
        case .badVersion: "BADVERS"
        default: "RCODE\(rawValue)"
        }
    }
}

/// The fixed 12-byte header without its counts (the sections' sizes give those).
public struct DNSHeader: Hashable, Sendable {
    public var id: UInt16
    public var isResponse = false
    public var opcode: UInt8 = 0
    public var authoritative = false
    public var truncated = false
    public var recursionDesired = false
    public var recursionAvailable = false
    public var authenticData = false
    public var checkingDisabled = false
    /// The low four bits of the response code; the upper bits are in the OPT record.
    public var rcode: UInt8 = 0

    public init(id: UInt16) { self.id = id }

    var flags: UInt16 {
        var flags = UInt16(opcode & 0x0F) << 11 | UInt16(rcode & 0x0F)
        if isResponse { flags |= 0x8000 }
        if authoritative { flags |= 0x0400 }
        if truncated { flags |= 0x0200 }
        if recursionDesired { flags |= 0x0100 }
        if recursionAvailable { flags |= 0x0080 }
        if authenticData { flags |= 0x0020 }
        if checkingDisabled { flags |= 0x0010 }
        return flags
    }

    init(id: UInt16, flags: UInt16) {
        self.id = id
        isResponse = flags & 0x8000 != 0
        opcode = UInt8((flags >> 11) & 0x0F)
        authoritative = flags & 0x0400 != 0
        truncated = flags & 0x0200 != 0
        recursionDesired = flags & 0x0100 != 0
        recursionAvailable = flags & 0x0080 != 0
        authenticData = flags & 0x0020 != 0
        checkingDisabled = flags & 0x0010 != 0
        rcode = UInt8(flags & 0x0F)
    }
}

public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    /// 1 is IN; 255 is ANY.
    public var recordClass: UInt16

    public init(name: DNSName, type: DNSRecordType, recordClass: UInt16 = 1) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
    }
}

/// The zone's start of authority (RFC 1035 3.3.13): negative answers carry it so resolvers know how long to
/// cache the absence (RFC 2308: the lesser of its TTL and `minimum`).
public struct DNSSOA: Hashable, Sendable {
    public var primary: DNSName
    public var mailbox: DNSName
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    public var minimum: UInt32

    public init(
        primary: DNSName,
        mailbox: DNSName,
        serial: UInt32,
        refresh: UInt32,
        retry: UInt32,
        expire: UInt32,
        minimum: UInt32
    ) {
        self.primary = primary
        self.mailbox = mailbox
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}

/// Record data: the types this responder serves decoded, the rest kept as bytes.
public enum DNSRecordData: Hashable, Sendable {
    /// 4 bytes.
    case a([UInt8])
    /// 16 bytes.
    case aaaa([UInt8])
    case ptr(DNSName)
    case cname(DNSName)
    case ns(DNSName)
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName)
    case soa(DNSSOA)
    /// Any other type, uninterpreted.
    case raw([UInt8])

    /// The type this data belongs to; nil for raw data.
    public var type: DNSRecordType? {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ptr: .ptr
        case .cname: .cname
        case .ns: .ns
        case .srv: .srv
        case .soa: .soa
        case .raw: nil
        }
    }
}

public struct DNSRecord: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: UInt16
    public var ttl: UInt32
    public var data: DNSRecordData

    /// A record of data's own type (raw data needs the other initialiser).
    public init(name: DNSName, ttl: UInt32, data: DNSRecordData, recordClass: UInt16 = 1) {
        self.init(
            name: name,
            type: data.type ?? DNSRecordType(rawValue: 0),
            recordClass: recordClass,
            ttl: ttl,
            data: data
        )
    }

    public init(name: DNSName, type: DNSRecordType, recordClass: UInt16, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }
}

/// EDNS(0) (RFC 6891), carried on the wire as the OPT pseudo-record in the additional section.
public struct DNSEDNS: Hashable, Sendable {
    /// The largest UDP response the sender can take (values under 512 mean 512).
    public var udpPayloadSize: UInt16
    /// The upper eight bits of the 12-bit response code.
    public var extendedRcode: UInt8 = 0
    public var version: UInt8 = 0
    public var dnssecOK = false
    /// The options, uninterpreted (this responder answers none of them).
    public var options: [UInt8] = []

    public init(udpPayloadSize: UInt16, extendedRcode: UInt8 = 0, version: UInt8 = 0, dnssecOK: Bool = false) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRcode = extendedRcode
        self.version = version
        self.dnssecOK = dnssecOK
    }
}

/// A whole message. `decode` and `encode` are exact inverses for everything this type can hold (names come
/// back uncompressed, a raw record as its bytes).
public struct DNSMessage: Hashable, Sendable {
    public static let maxSize = 65_535
    /// RFC 1035's limit for UDP without EDNS.
    public static let classicUDPSize = 512

    public var header: DNSHeader
    public var questions: [DNSQuestion] = []
    public var answers: [DNSRecord] = []
    public var authority: [DNSRecord] = []
    public var additional: [DNSRecord] = []
    public var edns: DNSEDNS?

    public init(header: DNSHeader) { self.header = header }

    /// The full response code: the header's four bits and the OPT record's upper eight.
    public var responseCode: DNSResponseCode {
        get { DNSResponseCode(rawValue: UInt16(edns?.extendedRcode ?? 0) << 4 | UInt16(header.rcode)) }
        set {
            header.rcode = UInt8(newValue.rawValue & 0x0F)
            edns?.extendedRcode = UInt8(truncatingIfNeeded: newValue.rawValue >> 4)
        }
    }
}

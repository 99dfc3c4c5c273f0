import IPVS

/// Reads the two line shapes that make up nearly every restore file, the ones `ipvsadm -S -n` and
/// `ipvsctl -S -n` print for IPv4 TCP and UDP services, straight from the bytes:
///
///     -A -t 10.0.0.1:80 -s rr [-p 360]
///     -a -t 10.0.0.1:80 -r 10.244.0.5:8080 -m -w 1 [-x 0] [-y 0]
///
/// Why a second reader: the general one (``IpvsadmParser``) re-implements popt, so each line becomes an
/// array of Strings, a scanner, a state of some forty fields and several checks; reading 110,000 lines
/// took longer than the kernel took to program them (3.7 s against 3.4 s in the test VM; docs/benchmarks.md,
/// `ipvsctl -R`). This one allocates nothing per line.
///
/// It never decides that a line is wrong. It answers only for a line whose every word it understands,
/// with exactly the command the general parser would build (Tests/IPVSAdminTests/SavedRuleLineTests.swift
/// compares the two over generated and mutated lines, and the ipvsadm-rules fuzz target checks it on
/// every input); for anything else (another option, another spelling, a value out of range, a comment,
/// IPv6, a host name) it returns nil and the general parser reads the line, with its messages.
enum SavedRuleLine {
    /// The command of `line`, or nil when the general parser must read it.
    static func command(in line: UnsafeBufferPointer<UInt8>) -> AdminCommand? {
        var words = Words(line)
        guard var first = words.next() else { return nil }
        // `words(of:)` drops every `ipvsadm` and a leading `ipvsctl`; here only the leading one, and a word
        // equal to either anywhere else is not accepted (see `schedulerName`).
        if isProgramName(first) {
            guard let next = words.next() else { return nil }
            first = next
        }
        let isService: Bool
        switch shortOption(first) {
        case UInt8(ascii: "A"): isService = true
        case UInt8(ascii: "a"): isService = false
        default: return nil
        }
        let proto: IPProtocol
        switch words.next().flatMap(shortOption) {
        case UInt8(ascii: "t"): proto = .tcp
        case UInt8(ascii: "u"): proto = .udp
        default: return nil
        }
        guard let (address, port) = words.next().flatMap(addressAndPort) else { return nil }
        let id = VirtualServer.ID.service(proto, address, port: port)
        return isService ? service(id, &words) : server(of: id, &words)
    }

    /// The rest of an `-A` line: `-s NAME` and `-p SECONDS`, each at most once, in any order.
    private static func service(_ id: VirtualServer.ID, _ words: inout Words) -> AdminCommand? {
        var scheduler: Scheduler?
        var persistence: UInt32?
        while let word = words.next() {
            switch shortOption(word) {
            case UInt8(ascii: "s"):
                guard scheduler == nil, let name = words.next().flatMap(schedulerName) else { return nil }
                scheduler = name
            case UInt8(ascii: "p"):
                // popt takes `-p`'s optional value only when the next word does not start with a dash.
                guard persistence == nil,
                    let seconds = words.next().flatMap({ number($0, 1...IpvsadmParser.maximumTimeout) })
                else { return nil }
                persistence = UInt32(seconds)
            default:
                return nil
            }
        }
        guard case .service(_, _, let port) = id, port != 0 || persistence != nil else {
            return nil  // "Zero port specified for non-persistent service", from the general parser.
        }
        let vs = VirtualServer(
            id: id,
            scheduler: scheduler ?? .weightedLeastConnection,
            flags: persistence == nil ? [] : .persistent,
            timeout: persistence ?? 0
        )
        return .change(.addService(vs))
    }

    /// The rest of an `-a` line: `-r ADDRESS:PORT` (required), one of `-m -g -i`, `-w -x -y`, each at most
    /// once, in any order.
    private static func server(of id: VirtualServer.ID, _ words: inout Words) -> AdminCommand? {
        var server: (address: IPAddress, port: UInt16)?
        var forwarding: ForwardingMethod?
        var weight: Int?
        var upper: Int?
        var lower: Int?
        let thresholds = 0...Int(Int32.max)
        while let word = words.next() {
            switch shortOption(word) {
            case UInt8(ascii: "r"):
                guard server == nil, let value = words.next().flatMap(addressAndPort) else { return nil }
                server = value
            case UInt8(ascii: "m"):
                guard forwarding == nil else { return nil }
                forwarding = .masquerade
            case UInt8(ascii: "g"):
                guard forwarding == nil else { return nil }
                forwarding = .directRouting
            case UInt8(ascii: "i"):
                guard forwarding == nil else { return nil }
                forwarding = .tunnel
            case UInt8(ascii: "w"):
                guard weight == nil, let n = words.next().flatMap({ number($0, RealServer.weights.asInts) })
                else { return nil }
                weight = n
            case UInt8(ascii: "x"):
                guard upper == nil, let n = words.next().flatMap({ number($0, thresholds) }) else { return nil }
                upper = n
            case UInt8(ascii: "y"):
                guard lower == nil, let n = words.next().flatMap({ number($0, thresholds) }) else { return nil }
                lower = n
            default:
                return nil
            }
        }
        guard let server, case .service(_, _, let servicePort) = id else { return nil }
        let method = forwarding ?? .directRouting
        // ipvsadm: direct routing and tunnelling keep the service's port, whatever `-r` says.
        let rs = RealServer(
            address: server.address,
            port: method == .masquerade ? server.port : servicePort,
            forwarding: method,
            weight: UInt32(weight ?? 1),
            upperThreshold: UInt32(upper ?? 0),
            lowerThreshold: UInt32(lower ?? 0)
        )
        return .change(.addServer(rs, to: id))
    }

    // MARK: Words

    typealias Word = Slice<UnsafeBufferPointer<UInt8>>

    /// The words of a line, split where ipvsadm splits (blanks, tabs, CRs); a word starting with `#` ends
    /// the line for ipvsadm, so it ends this reader's answer: it is returned, and no shape accepts it.
    struct Words {
        private let line: UnsafeBufferPointer<UInt8>
        private var index = 0

        init(_ line: UnsafeBufferPointer<UInt8>) { self.line = line }

        mutating func next() -> Word? {
            while index < line.count, isBlank(line[index]) { index += 1 }
            guard index < line.count else { return nil }
            let start = index
            while index < line.count, !isBlank(line[index]) { index += 1 }
            return line[start..<index]
        }

        private func isBlank(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
        }
    }

    /// `ipvsadm` or `ipvsctl`, the words `RestoreParser.words(of:)` drops.
    private static func isProgramName(_ word: Word) -> Bool {
        word.elementsEqual("ipvsadm".utf8) || word.elementsEqual("ipvsctl".utf8)
    }

    /// The letter of a two-byte word `-X`.
    private static func shortOption(_ word: Word) -> UInt8? {
        guard word.count == 2, word.first == UInt8(ascii: "-") else { return nil }
        return word.last
    }

    /// `d.d.d.d:port`: inet_pton's dotted quad (which inet_aton reads the same way; inet_aton's other forms,
    /// octal and hex among them, are the general parser's) and a decimal port.
    private static func addressAndPort(_ word: Word) -> (IPAddress, UInt16)? {
        guard let colon = word.lastIndex(of: UInt8(ascii: ":")),
            let address = IPAddress(dottedQuad: UnsafeBufferPointer(rebasing: word[..<colon])),
            let port = number(word[(colon + 1)...], 0...65535)
        else { return nil }
        return (address, UInt16(port))
    }

    /// Decimal digits only (the general parser's `number` also takes blanks and a sign), within `range`.
    private static func number(_ word: Word, _ range: ClosedRange<Int>) -> Int? {
        guard !word.isEmpty, word.count <= 10 else { return nil }
        var value = 0
        for byte in word {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return range.contains(value) ? value : nil
    }

    /// Lowercase letters and digits, up to the kernel's length, and not a word the general reader drops.
    private static func schedulerName(_ word: Word) -> Scheduler? {
        guard !word.isEmpty, word.count <= Scheduler.maximumNameLength,
            word.allSatisfy({ ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= 0x30 && $0 <= 0x39) }),
            !isProgramName(word)
        else { return nil }
        return Scheduler(rawValue: String(decoding: word, as: UTF8.self))
    }
}

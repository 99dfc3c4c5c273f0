/// The options of ipvsadm's popt table.
enum OptionTag: Hashable, Sendable {
    case addService, editService, deleteService, clear, list, zero, addServer, editServer, deleteServer
    case set, help, version, restore, save, startDaemon, stopDaemon
    case tcpService, udpService, sctpService, fwmarkService, scheduler, persistent, netmask, realServer
    case masquerading, ipip, gatewaying, weight, upperThreshold, lowerThreshold, numeric, connection
    case mcastInterface, syncID, timeout, daemon, stats, rate, thresholds, persistentConnections, noSort, sort
    case exact, ipv6, ops, persistenceEngine, schedFlags, mcastGroup, mcastPort, mcastTTL, syncMaxLength
    case tunnelInfo, tunnelType, tunnelPort, tunnelNoChecksum, tunnelChecksum, tunnelRemoteChecksum
}

/// Whether an option takes an argument (popt's `POPT_ARG_NONE`, `POPT_ARG_STRING`, `POPT_ARGFLAG_OPTIONAL`).
enum ArgumentKind: Sendable {
    case none, required, optional
}

struct OptionSpec: Sendable {
    var long: String
    var short: Character?
    var argument: ArgumentKind
    var tag: OptionTag
}

/// ipvsadm's option table, in its order.
let ipvsadmOptions: [OptionSpec] = [
    .init(long: "add-service", short: "A", argument: .none, tag: .addService),
    .init(long: "edit-service", short: "E", argument: .none, tag: .editService),
    .init(long: "delete-service", short: "D", argument: .none, tag: .deleteService),
    .init(long: "clear", short: "C", argument: .none, tag: .clear),
    .init(long: "list", short: "L", argument: .none, tag: .list),
    .init(long: "list", short: "l", argument: .none, tag: .list),
    .init(long: "zero", short: "Z", argument: .none, tag: .zero),
    .init(long: "add-server", short: "a", argument: .none, tag: .addServer),
    .init(long: "edit-server", short: "e", argument: .none, tag: .editServer),
    .init(long: "delete-server", short: "d", argument: .none, tag: .deleteServer),
    .init(long: "set", short: nil, argument: .none, tag: .set),
    .init(long: "help", short: "h", argument: .none, tag: .help),
    .init(long: "version", short: "v", argument: .none, tag: .version),
    .init(long: "restore", short: "R", argument: .none, tag: .restore),
    .init(long: "save", short: "S", argument: .none, tag: .save),
    .init(long: "start-daemon", short: nil, argument: .required, tag: .startDaemon),
    .init(long: "stop-daemon", short: nil, argument: .required, tag: .stopDaemon),
    .init(long: "tcp-service", short: "t", argument: .required, tag: .tcpService),
    .init(long: "udp-service", short: "u", argument: .required, tag: .udpService),
    .init(long: "sctp-service", short: nil, argument: .required, tag: .sctpService),
    .init(long: "fwmark-service", short: "f", argument: .required, tag: .fwmarkService),
    .init(long: "scheduler", short: "s", argument: .required, tag: .scheduler),
    .init(long: "persistent", short: "p", argument: .optional, tag: .persistent),
    .init(long: "netmask", short: "M", argument: .required, tag: .netmask),
    .init(long: "real-server", short: "r", argument: .required, tag: .realServer),
    .init(long: "masquerading", short: "m", argument: .none, tag: .masquerading),
    .init(long: "ipip", short: "i", argument: .none, tag: .ipip),
    .init(long: "gatewaying", short: "g", argument: .none, tag: .gatewaying),
    .init(long: "weight", short: "w", argument: .required, tag: .weight),
    .init(long: "u-threshold", short: "x", argument: .required, tag: .upperThreshold),
    .init(long: "l-threshold", short: "y", argument: .required, tag: .lowerThreshold),
    .init(long: "numeric", short: "n", argument: .none, tag: .numeric),
    .init(long: "connection", short: "c", argument: .none, tag: .connection),
    .init(long: "mcast-interface", short: nil, argument: .required, tag: .mcastInterface),
    .init(long: "syncid", short: nil, argument: .required, tag: .syncID),
    .init(long: "timeout", short: nil, argument: .none, tag: .timeout),
    .init(long: "daemon", short: nil, argument: .none, tag: .daemon),
    .init(long: "stats", short: nil, argument: .none, tag: .stats),
    .init(long: "rate", short: nil, argument: .none, tag: .rate),
    .init(long: "thresholds", short: nil, argument: .none, tag: .thresholds),
    .init(long: "persistent-conn", short: nil, argument: .none, tag: .persistentConnections),
    .init(long: "nosort", short: nil, argument: .none, tag: .noSort),
    .init(long: "sort", short: nil, argument: .none, tag: .sort),
    .init(long: "exact", short: "X", argument: .none, tag: .exact),
    .init(long: "ipv6", short: "6", argument: .none, tag: .ipv6),
    .init(long: "ops", short: "o", argument: .none, tag: .ops),
    .init(long: "pe", short: nil, argument: .required, tag: .persistenceEngine),
    .init(long: "sched-flags", short: "b", argument: .required, tag: .schedFlags),
    .init(long: "mcast-group", short: nil, argument: .required, tag: .mcastGroup),
    .init(long: "mcast-port", short: nil, argument: .required, tag: .mcastPort),
    .init(long: "mcast-ttl", short: nil, argument: .required, tag: .mcastTTL),
    .init(long: "sync-maxlen", short: nil, argument: .required, tag: .syncMaxLength),
    .init(long: "tun-info", short: nil, argument: .none, tag: .tunnelInfo),
    .init(long: "tun-type", short: nil, argument: .required, tag: .tunnelType),
    .init(long: "tun-port", short: nil, argument: .required, tag: .tunnelPort),
    .init(long: "tun-nocsum", short: nil, argument: .none, tag: .tunnelNoChecksum),
    .init(long: "tun-csum", short: nil, argument: .none, tag: .tunnelChecksum),
    .init(long: "tun-remcsum", short: nil, argument: .none, tag: .tunnelRemoteChecksum),
]

/// A re-implementation of the parts of popt's `poptGetNextOpt` that ipvsadm relies on: long options with
/// `=value` or a separate value, clusters of short options (`-Ln`), values glued to a short option (`-p5`),
/// optional values taken only from an argument that does not start with `-`, `--` ending the options, and
/// non-option arguments collected wherever they appear.
struct PoptScanner {
    enum Failure: Error, Equatable {
        /// `POPT_ERROR_BADOPT`: "unknown option".
        case unknownOption
        /// `POPT_ERROR_NOARG`: "missing argument".
        case missingArgument
        /// `POPT_ERROR_UNWANTEDARG`: "option does not take an argument".
        case unwantedArgument

        var text: String {
            switch self {
            case .unknownOption: "unknown option"
            case .missingArgument: "missing argument"
            case .unwantedArgument: "option does not take an argument"
            }
        }
    }

    private let arguments: [String]
    private var next = 0
    private var cluster: Substring?
    private var restAreArguments = false
    /// Non-option arguments, in order.
    private(set) var leftovers: [String] = []

    init(_ arguments: [String]) { self.arguments = arguments }

    /// popt's `poptBadOption`: the argument being processed when the last option was read.
    var currentArgument: String { next > 0 ? arguments[next - 1] : "" }

    /// The next option and its value, nil at the end.
    mutating func nextOption() throws(Failure) -> (OptionSpec, String?)? {
        while true {
            if let chars = cluster, let first = chars.utf8.first {
                cluster = nil
                // Bytes, as popt reads a C string: every short option is one ASCII byte.
                guard let spec = shortOption(first) else { throw .unknownOption }
                var rest = chars.droppingFirstByte()
                if rest.utf8.first == UInt8(ascii: "=") { rest = rest.droppingFirstByte() }
                if !rest.isEmpty { cluster = rest }
                return (spec, try value(for: spec, inline: nil))
            }
            guard next < arguments.count else { return nil }
            let argument = arguments[next]
            next += 1
            if restAreArguments || argument.utf8.first != UInt8(ascii: "-") || argument == "-" {
                leftovers.append(argument)
                continue
            }
            if argument == "--" {
                restAreArguments = true
                continue
            }
            if argument.hasPrefix("--") {
                let body = argument.dropFirst(2)
                let name = body.prefix { $0 != "=" }
                let inline = name.endIndex < body.endIndex ? String(body[body.index(after: name.endIndex)...]) : nil
                guard let spec = longOption(name) else { throw .unknownOption }
                if spec.argument == .none, inline != nil { throw .unwantedArgument }
                return (spec, try value(for: spec, inline: inline))
            }
            cluster = argument.dropFirst()
        }
    }

    private mutating func value(for spec: OptionSpec, inline: String?) throws(Failure) -> String? {
        guard spec.argument != .none else { return nil }
        if let inline { return inline }
        if let rest = cluster {
            cluster = nil
            return String(rest)
        }
        guard next < arguments.count else {
            if spec.argument == .optional { return nil }
            throw .missingArgument
        }
        if spec.argument == .optional, arguments[next].utf8.first == UInt8(ascii: "-") { return nil }
        next += 1
        return arguments[next - 1]
    }
}

/// The options of ``ipvsadmOptions`` by short name, indexed by its ASCII code.
private let shortOptions: [OptionSpec?] = {
    var table = [OptionSpec?](repeating: nil, count: 128)
    for spec in ipvsadmOptions.reversed() {
        if let short = spec.short?.asciiValue { table[Int(short)] = spec }
    }
    return table
}()

/// The first option of ``ipvsadmOptions`` whose short name is the ASCII character `byte`.
private func shortOption(_ byte: UInt8) -> OptionSpec? { byte < 128 ? shortOptions[Int(byte)] : nil }

/// The option of ``ipvsadmOptions`` with this long name. The names are ASCII letters and dashes, which no
/// other Unicode text equals, so comparing bytes is the same as comparing strings.
private func longOption(_ name: Substring) -> OptionSpec? {
    ipvsadmOptions.first { $0.long.utf8.elementsEqual(name.utf8) }
}

extension Substring {
    /// The text after its first byte, which must be ASCII (so the rest starts on a character boundary).
    func droppingFirstByte() -> Substring {
        self[utf8.index(after: startIndex)...]
    }
}

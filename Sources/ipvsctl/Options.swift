import ArgumentParser

/// `--output text|json`, `-o json` (or `-O json`), `--json`.
struct OutputOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: [.customLong("output"), .customShort("o"), .customShort("O")], help: "Output format: text or json.")
    var output: Format = .text
    @Flag(name: .customLong("json"), help: "Same as --output json.")
    var json = false

    var isJSON: Bool { json || output == .json }
}

/// The kind of a virtual service: its protocol, or a firewall mark.
enum ServiceKind: String, ExpressibleByArgument, CaseIterable {
    case tcp, udp, sctp, fwmark

    /// The ipvsadm option that names a service of this kind.
    var ipvsadmOption: String {
        switch self {
        case .tcp: "-t"
        case .udp: "-u"
        case .sctp: "--sctp-service"
        case .fwmark: "-f"
        }
    }
}

/// `KIND ADDRESS [--ipv6]`: the virtual service a command works on.
struct ServiceSpec: ParsableArguments {
    @Argument(help: "Service kind.")
    var kind: ServiceKind
    @Argument(help: "HOST:PORT ([V6]:PORT) for tcp, udp and sctp; the mark for fwmark.")
    var address: String
    @Flag(name: .customLong("ipv6"), help: "IPv6 firewall-mark service.")
    var ipv6 = false

    func validate() throws {
        if ipv6, kind != .fwmark {
            throw ValidationError("--ipv6 is only for fwmark services; write IPv6 addresses as [ADDR]:PORT")
        }
    }

    var ipvsadm: [String] { [kind.ipvsadmOption, address] + (ipv6 ? ["-6"] : []) }
}

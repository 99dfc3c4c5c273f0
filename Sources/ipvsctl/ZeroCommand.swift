import ArgumentParser

struct ZeroCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zero",
        abstract: "Zero the counters of one service, or of all (ipvsadm -Z).",
        discussion: """
            EXAMPLES:
              ipvsctl zero
              ipvsctl zero tcp 10.96.0.10:80
            """
    )
    @Argument(help: "Service kind.") var kind: ServiceKind?
    @Argument(help: "Service address.") var address: String?

    var ipvsadm: [String] {
        guard let kind, let address else { return ["-Z"] }
        return ["-Z", kind.ipvsadmOption, address]
    }

    func validate() throws {
        if (kind == nil) != (address == nil) { throw ValidationError("give both the service kind and address") }
        try check(ipvsadm)
    }

    func run() throws { runIpvsadm(ipvsadm) }
}

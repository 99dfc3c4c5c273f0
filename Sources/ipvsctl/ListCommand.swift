import ArgumentParser
import IPVS
import IPVSAdmin

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List virtual services and real servers (ipvsadm -L -n).",
        discussion: """
            The text output is ipvsadm's, byte for byte. JSON always carries counters, rates, \
            thresholds, persistent connections and tunnel settings, so --stats, --rate, --exact, \
            --thresholds, --persistent-conn and --tun-info do not change it; --nosort keeps the kernel's \
            order there too.

            EXAMPLES:
              ipvsctl list                       # like ipvsadm -L -n
              ipvsctl list --stats               # counters
              ipvsctl list --rate --exact        # rates, unabbreviated
              ipvsctl list --tun-info            # tunnel type, port and checksum
              ipvsctl list tcp 10.96.0.10:80     # one service
              ipvsctl list -o json               # JSON, schema in docs/ipvsctl.md
            """
    )

    @OptionGroup var output: OutputOptions
    @Flag(help: "Counters (ipvsadm --stats).") var stats = false
    @Flag(help: "Rates (ipvsadm --rate).") var rate = false
    @Flag(help: "Exact numbers, not K/M/G (ipvsadm --exact).") var exact = false
    @Flag(help: "Connection thresholds (ipvsadm --thresholds).") var thresholds = false
    @Flag(help: "Persistent connections (ipvsadm --persistent-conn).") var persistentConn = false
    @Flag(help: "Tunnel type, port and checksum (ipvsadm --tun-info).") var tunInfo = false
    @Flag(help: "Kernel order, not sorted (ipvsadm --nosort).") var nosort = false
    @Flag(help: "Resolve names like ipvsadm without -n.") var names = false
    @Argument(help: "Service kind.") var kind: ServiceKind?
    @Argument(help: "Service address.") var address: String?

    var ipvsadm: [String] {
        var args = ["-L"]
        if !names { args.append("-n") }
        if stats { args.append("--stats") }
        if rate { args.append("--rate") }
        if exact { args.append("--exact") }
        if thresholds { args.append("--thresholds") }
        if persistentConn { args.append("--persistent-conn") }
        if tunInfo { args.append("--tun-info") }
        if nosort { args.append("--nosort") }
        if let kind, let address { args += [kind.ipvsadmOption, address] }
        return args
    }

    func validate() throws {
        if (kind == nil) != (address == nil) { throw ValidationError("give both the service kind and address") }
        try check(ipvsadm)
    }

    func run() throws {
        guard output.isJSON else { runIpvsadm(ipvsadm) }
        let kernel = openKernel()
        do {
            var entries = try IPVSAdmin.snapshot(kernel)
            if case .list(.service(let id), _) = try check(ipvsadm) {
                entries = entries.filter { $0.service.virtualServer.id == id }
                if entries.isEmpty { fail(AdminError("No such service", status: 1)) }
            }
            print(JSONOutput.services(entries, info: try kernel.info(), sorted: !nosort), terminator: "")
        } catch let error as IPVSError {
            fail(error)
        }
    }
}

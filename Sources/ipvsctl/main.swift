import ArgumentParser
import IPVS
import IPVSAdmin

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// ipvsctl: ipvsadm's syntax when the first argument is an option (or there is none), readable subcommands
// otherwise. Both end in the IPVSAdmin library, which does all the work.

func readStandardInput() -> String {
    var text = ""
    while let line = readLine(strippingNewline: false) { text += line }
    return text
}

func readFile(_ path: String) throws(AdminError) -> String {
    if path == "-" { return readStandardInput() }
    guard let file = fopen(path, "r") else {
        throw AdminError("cannot open \(path): \(String(cString: strerror(errno)))", status: 1)
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

func makeAdmin() -> IPVSAdmin {
    IPVSAdmin(
        programName: "ipvsctl",
        resolver: SystemResolver(),
        connectionTable: { try? readFile("/proc/net/ip_vs_conn") },
        kernel: { () throws(IPVSError) -> any IPVSKernel in try IPVSClient() }
    )
}

func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        bytes = bytes.dropFirst(n)
    }
}

func finish(_ output: AdminOutput) -> Never {
    writeAll(1, output.stdout)
    writeAll(2, output.stderr)
    exit(output.status)
}

func openKernel() -> any IPVSKernel {
    do {
        return try IPVSClient()
    } catch {
        finish(AdminOutput(stderr: IPVSAdmin.initializationError(error).message + "\n", status: 2))
    }
}

/// Runs ipvsadm-style arguments built by a subcommand.
func runIpvsadm(_ arguments: [String]) -> Never {
    finish(makeAdmin().run(arguments, stdin: readStandardInput))
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct OutputOptions: ParsableArguments {
    @Option(name: [.customLong("output"), .customShort("O")], help: "Output format: text or json.")
    var output: OutputFormat = .text
    @Flag(name: .customLong("json"), help: "Same as --output json.")
    var json = false
    var isJSON: Bool { json || output == .json }
}

struct ServiceSpec: ParsableArguments {
    @Argument(help: "tcp, udp, sctp or fwmark.")
    var kind: String
    @Argument(help: "HOST:PORT ([V6]:PORT) for tcp/udp/sctp, the mark for fwmark.")
    var address: String
    @Flag(name: .customLong("ipv6"), help: "IPv6 firewall-mark service.")
    var ipv6 = false

    func validate() throws {
        guard ["tcp", "udp", "sctp", "fwmark"].contains(kind) else {
            throw ValidationError("service kind must be tcp, udp, sctp or fwmark, not '\(kind)'")
        }
    }

    var ipvsadm: [String] {
        switch kind {
        case "tcp": ["-t", address]
        case "udp": ["-u", address]
        case "sctp": ["--sctp-service", address]
        default: ["-f", address] + (ipv6 ? ["-6"] : [])
        }
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List virtual services and real servers (ipvsadm -L).",
        discussion: """
            Examples:
              ipvsctl list                       # like ipvsadm -L -n
              ipvsctl list --stats               # counters
              ipvsctl list tcp 10.96.0.10:80     # one service
              ipvsctl list --output json         # JSON, schema in docs/ipvsctl.md
            """
    )
    @OptionGroup var output: OutputOptions
    @Flag(help: "Counters.") var stats = false
    @Flag(help: "Rates.") var rate = false
    @Flag(help: "Exact numbers.") var exact = false
    @Flag(help: "Thresholds.") var thresholds = false
    @Flag(help: "Resolve names like ipvsadm without -n.") var names = false
    @Argument(help: "Service kind (tcp, udp, sctp, fwmark).") var kind: String?
    @Argument(help: "Service address.") var address: String?

    func validate() throws {
        if (kind == nil) != (address == nil) { throw ValidationError("give both the service kind and address") }
    }

    func run() throws {
        if output.isJSON {
            let kernel = openKernel()
            do {
                var entries = try IPVSAdmin.snapshot(kernel)
                if let kind, let address {
                    let spec = try ServiceSpec.parse([kind, address])
                    guard case .list(.service(let id), _) = try makeAdmin().parser.parse(["-L"] + spec.ipvsadm) else {
                        return
                    }
                    entries = entries.filter { $0.service.virtualServer.id == id }
                }
                print(JSONOutput.services(entries, info: try kernel.info()), terminator: "")
            } catch let error as IPVSError {
                finish(AdminOutput(stderr: KernelErrorText.message(error, operation: nil) + "\n", status: 1))
            } catch let error as AdminError {
                finish(AdminOutput(stderr: error.message + "\n", status: error.status))
            }
            return
        }
        var args = ["-L"]
        if !names { args.append("-n") }
        if stats { args.append("--stats") }
        if rate { args.append("--rate") }
        if exact { args.append("--exact") }
        if thresholds { args.append("--thresholds") }
        if let kind, let address { args += try ServiceSpec.parse([kind, address]).ipvsadm }
        runIpvsadm(args)
    }
}

struct ServiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Add, edit or delete a virtual service (ipvsadm -A, -E, -D).",
        subcommands: [Add.self, Edit.self, Delete.self]
    )

    struct Settings: ParsableArguments {
        @Option(name: [.short, .long], help: "Scheduler (rr, wrr, lc, wlc, sh, mh, ...); default wlc.")
        var scheduler: String?
        @Option(name: .long, help: "Persistence timeout in seconds.") var persistent: Int?
        @Option(name: .long, help: "Persistence netmask (IPv4 mask or IPv6 prefix length).") var netmask: String?
        @Option(name: .long, help: "Persistence engine, such as sip.") var pe: String?
        @Option(name: .long, help: "Scheduler flags, comma-separated (sh-port, sh-fallback, mh-port, ...).")
        var schedFlags: String?
        @Flag(name: .long, help: "One-packet scheduling (UDP).") var ops = false

        var ipvsadm: [String] {
            var args: [String] = []
            if let scheduler { args += ["-s", scheduler] }
            if let persistent { args += ["-p", "\(persistent)"] }
            if let netmask { args += ["-M", netmask] }
            if let pe { args += ["--pe", pe] }
            if let schedFlags { args += ["-b", schedFlags] }
            if ops { args.append("-o") }
            return args
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a virtual service (ipvsadm -A).",
            discussion: """
                Examples:
                  ipvsctl service add tcp 10.96.0.10:80 --scheduler rr
                  ipvsctl service add udp 10.96.0.10:53 --scheduler sh --sched-flags sh-port --ops
                  ipvsctl service add fwmark 7 --persistent 300
                """
        )
        @OptionGroup var service: ServiceSpec
        @OptionGroup var settings: Settings
        func run() throws { runIpvsadm(["-A"] + service.ipvsadm + settings.ipvsadm) }
    }

    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a virtual service's settings (ipvsadm -E; unset options return to defaults).",
            discussion: "Example:\n  ipvsctl service edit tcp 10.96.0.10:80 --scheduler wrr"
        )
        @OptionGroup var service: ServiceSpec
        @OptionGroup var settings: Settings
        func run() throws { runIpvsadm(["-E"] + service.ipvsadm + settings.ipvsadm) }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a virtual service and its real servers (ipvsadm -D).",
            discussion: "Example:\n  ipvsctl service delete tcp 10.96.0.10:80"
        )
        @OptionGroup var service: ServiceSpec
        func run() throws { runIpvsadm(["-D"] + service.ipvsadm) }
    }
}

struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Add, edit or delete a real server (ipvsadm -a, -e, -d).",
        subcommands: [Add.self, Edit.self, Delete.self]
    )

    struct Settings: ParsableArguments {
        @Option(name: [.short, .long], help: "Forwarding: route (default), nat or tunnel.") var forwarding: String?
        @Option(name: [.short, .long], help: "Weight, 0...65535; default 1.") var weight: Int?
        @Option(name: .long, help: "Upper connection threshold.") var upperThreshold: Int?
        @Option(name: .long, help: "Lower connection threshold.") var lowerThreshold: Int?
        @Option(name: .long, help: "Tunnel type: ipip, gue or gre.") var tunType: String?
        @Option(name: .long, help: "GUE destination port.") var tunPort: Int?
        @Option(name: .long, help: "Tunnel checksum: none, checksum or remote.") var tunChecksum: String?

        func validate() throws {
            if let forwarding, !["route", "nat", "tunnel"].contains(forwarding) {
                throw ValidationError("forwarding must be route, nat or tunnel, not '\(forwarding)'")
            }
            if let tunChecksum, !["none", "checksum", "remote"].contains(tunChecksum) {
                throw ValidationError("tunnel checksum must be none, checksum or remote")
            }
        }

        var ipvsadm: [String] {
            var args: [String] = []
            switch forwarding {
            case "nat": args.append("-m")
            case "tunnel": args.append("-i")
            case "route": args.append("-g")
            default: break
            }
            if let weight { args += ["-w", "\(weight)"] }
            if let upperThreshold { args += ["-x", "\(upperThreshold)"] }
            if let lowerThreshold { args += ["-y", "\(lowerThreshold)"] }
            if let tunType { args += ["--tun-type", tunType] }
            if let tunPort { args += ["--tun-port", "\(tunPort)"] }
            switch tunChecksum {
            case "none": args.append("--tun-nocsum")
            case "checksum": args.append("--tun-csum")
            case "remote": args.append("--tun-remcsum")
            default: break
            }
            return args
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a real server to a virtual service (ipvsadm -a).",
            discussion: """
                Examples:
                  ipvsctl server add tcp 10.96.0.10:80 10.244.1.5:8080 --forwarding nat --weight 2
                  ipvsctl server add udp 10.96.0.10:53 10.0.0.4 --forwarding tunnel --tun-type gue --tun-port 6080
                """
        )
        @OptionGroup var service: ServiceSpec
        @Argument(help: "Real server HOST[:PORT].") var server: String
        @OptionGroup var settings: Settings
        func run() throws { runIpvsadm(["-a"] + service.ipvsadm + ["-r", server] + settings.ipvsadm) }
    }

    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a real server's settings (ipvsadm -e).",
            discussion: "Example:\n  ipvsctl server edit tcp 10.96.0.10:80 10.244.1.5:8080 --forwarding nat --weight 0"
        )
        @OptionGroup var service: ServiceSpec
        @Argument(help: "Real server HOST[:PORT].") var server: String
        @OptionGroup var settings: Settings
        func run() throws { runIpvsadm(["-e"] + service.ipvsadm + ["-r", server] + settings.ipvsadm) }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a real server (ipvsadm -d).",
            discussion: "Example:\n  ipvsctl server delete tcp 10.96.0.10:80 10.244.1.5:8080"
        )
        @OptionGroup var service: ServiceSpec
        @Argument(help: "Real server HOST[:PORT].") var server: String
        func run() throws { runIpvsadm(["-d"] + service.ipvsadm + ["-r", server]) }
    }
}

struct ZeroCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zero",
        abstract: "Zero counters of one service or all (ipvsadm -Z).",
        discussion: "Examples:\n  ipvsctl zero\n  ipvsctl zero tcp 10.96.0.10:80"
    )
    @Argument var kind: String?
    @Argument var address: String?
    func run() throws {
        var args = ["-Z"]
        if let kind, let address { args += try ServiceSpec.parse([kind, address]).ipvsadm }
        runIpvsadm(args)
    }
}

struct FlushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flush",
        abstract: "Delete every virtual service (ipvsadm -C).",
        discussion: "Example:\n  ipvsctl flush"
    )
    func run() throws { runIpvsadm(["-C"]) }
}

struct SaveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save",
        abstract: "Print the table as ipvsadm commands (ipvsadm -S -n).",
        discussion: "Example:\n  ipvsctl save > /etc/ipvs.rules"
    )
    @Flag(help: "Resolve names like ipvsadm -S without -n.") var names = false
    func run() throws { runIpvsadm(names ? ["-S"] : ["-S", "-n"]) }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Add the rules of a file (ipvsadm -R); validates every line before applying any.",
        discussion: "Examples:\n  ipvsctl restore /etc/ipvs.rules\n  ipvsadm -S -n | ipvsctl restore -"
    )
    @Argument(help: "Rules file, or - for standard input.") var file: String = "-"
    func run() throws {
        do {
            let text = try readFile(file)
            finish(makeAdmin().run(["-R"], stdin: { text }))
        } catch let error as AdminError {
            finish(AdminOutput(stderr: error.message + "\n", status: error.status))
        }
    }
}

/// Plans `apply FILE`: the file's table against the kernel's.
func plan(_ file: String) -> (any IPVSKernel, [IPVSOperation]) {
    do {
        let text = try readFile(file)
        let lines = try RestoreParser.parse(text, parser: IpvsadmParser(programName: "ipvsctl"))
        let (table, timeouts) = try ApplyPlanner.desiredTable(lines)
        let kernel = openKernel()
        let observed = try IPVSAdmin.snapshot(kernel)
        var operations = ApplyPlanner.plan(desired: table, observed: observed)
        if let timeouts, try kernel.timeouts() != timeouts { operations.append(.setTimeouts(timeouts)) }
        return (kernel, operations)
    } catch let error as AdminError {
        finish(AdminOutput(stderr: error.message + "\n", status: error.status))
    } catch let error as RestoreFailure {
        finish(AdminOutput(stderr: error.description + "\n", status: 2))
    } catch let error as IPVSError {
        finish(AdminOutput(stderr: KernelErrorText.message(error, operation: nil) + "\n", status: 1))
    } catch {
        finish(AdminOutput(stderr: "\(error)\n", status: 1))
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what `ipvsctl apply FILE` would change; exit 0 when nothing, 1 when something differs.",
        discussion: "Example:\n  ipvsctl diff /etc/ipvs.rules"
    )
    @Argument(help: "Rules file (ipvsadm -S format), or - for standard input.") var file: String
    func run() throws {
        let (_, operations) = plan(file)
        finish(AdminOutput(stdout: PlanText.render(operations), status: operations.isEmpty ? 0 : 1))
    }
}

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the kernel's table equal to a rules file: add, update and delete only what differs.",
        discussion: "Example:\n  ipvsctl apply /etc/ipvs.rules"
    )
    @Argument(help: "Rules file (ipvsadm -S format), or - for standard input.") var file: String
    @Flag(help: "Print the changes as they are made.") var verbose = false
    func run() throws {
        let (kernel, operations) = plan(file)
        let result = kernel.apply(operations, progress: nil)
        var output = AdminOutput(stdout: verbose ? PlanText.render(operations) : "")
        for failure in result.failures {
            output.stderr +=
                "\(failure.operation): \(KernelErrorText.message(failure.error, operation: failure.operation))\n"
        }
        output.status = result.failures.isEmpty ? 0 : 255
        finish(output)
    }
}

struct TimeoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeout",
        abstract: "Show or set connection timeouts (ipvsadm -L --timeout, --set).",
        subcommands: [Get.self, Set.self]
    )
    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show timeouts.",
            discussion: "Example:\n  ipvsctl timeout get --output json"
        )
        @OptionGroup var output: OutputOptions
        func run() throws {
            guard output.isJSON else { runIpvsadm(["-L", "--timeout"]) }
            do {
                print(JSONOutput.timeouts(try openKernel().timeouts()), terminator: "")
            } catch {
                finish(AdminOutput(stderr: KernelErrorText.message(error, operation: nil) + "\n", status: 1))
            }
        }
    }
    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set TCP, TCP FIN and UDP timeouts in seconds; 0 keeps a value.",
            discussion: "Example:\n  ipvsctl timeout set 900 120 300"
        )
        @Argument var tcp: String
        @Argument var tcpfin: String
        @Argument var udp: String
        func run() throws { runIpvsadm(["--set", "--", tcp, tcpfin, udp]) }
    }
}

struct DaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Start, stop or list connection sync daemons.",
        subcommands: [Start.self, Stop.self, List.self]
    )
    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a sync daemon (ipvsadm --start-daemon).",
            discussion: "Example:\n  ipvsctl daemon start master --interface eth1 --syncid 7"
        )
        @Argument(help: "master or backup.") var state: String
        @Option(help: "Multicast interface; default eth0.") var interface: String?
        @Option(help: "Sync ID, 0...255.") var syncid: Int?
        func run() throws {
            var args = ["--start-daemon", state]
            if let interface { args += ["--mcast-interface", interface] }
            if let syncid { args += ["--syncid", "\(syncid)"] }
            runIpvsadm(args)
        }
    }
    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a sync daemon.",
            discussion: "Example:\n  ipvsctl daemon stop master"
        )
        @Argument(help: "master or backup.") var state: String
        func run() throws { runIpvsadm(["--stop-daemon", state]) }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List sync daemons.",
            discussion: "Example:\n  ipvsctl daemon list --json"
        )
        @OptionGroup var output: OutputOptions
        func run() throws {
            guard output.isJSON else { runIpvsadm(["-L", "--daemon"]) }
            do {
                print(JSONOutput.daemons(try openKernel().daemons()), terminator: "")
            } catch {
                finish(AdminOutput(stderr: KernelErrorText.message(error, operation: nil) + "\n", status: 1))
            }
        }
    }
}

struct IPVSCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipvsctl",
        abstract: "Administer Linux IPVS; ipvsadm-compatible, with readable subcommands.",
        discussion: """
            Every ipvsadm command line works as is (ipvsctl -A -t 10.96.0.10:80 -s rr, ipvsctl -Ln, ...);
            ipvsctl -h prints ipvsadm's option summary. See docs/ipvsctl.md.

            Examples:
              ipvsctl service add tcp 10.96.0.10:80 --scheduler rr
              ipvsctl server add tcp 10.96.0.10:80 10.244.1.5:8080 --forwarding nat
              ipvsctl list --stats
              ipvsctl save > rules && ipvsctl diff rules && ipvsctl apply rules
            """,
        subcommands: [
            ListCommand.self, ServiceCommand.self, ServerCommand.self, ZeroCommand.self, FlushCommand.self,
            SaveCommand.self, RestoreCommand.self, DiffCommand.self, ApplyCommand.self, TimeoutCommand.self,
            DaemonCommand.self,
        ]
    )
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.isEmpty || arguments[0].hasPrefix("-") && arguments[0] != "--help" {
    runIpvsadm(arguments)
}
IPVSCtl.main(arguments)

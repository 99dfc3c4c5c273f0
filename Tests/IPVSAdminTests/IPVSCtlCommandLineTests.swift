import Foundation
import Testing

/// ipvsctl's subcommand syntax run as the real binary: exact standard error and exit status for bad
/// arguments (ArgumentParser's wording or ipvsadm's, with the usage line; status 64), all refused before
/// IPVS is opened, so they run on any host.
@Suite(.enabled(if: IPVSCtlBinary.exists, "needs the ipvsctl binary next to the test bundle"))
struct IPVSCtlCommandLineTests {
    struct Failure: CustomTestStringConvertible, Sendable {
        var why: String
        var line: String
        var status: Int32
        var stderr: String
        init(_ why: String, _ line: String, status: Int32, stderr: String) {
            (self.why, self.line, self.status, self.stderr) = (why, line, status, stderr)
        }
        var testDescription: String { "\(why): ipvsctl \(line)" }
    }

    static let failures: [Failure] = [
        Failure(
            "address without a port",
            "service add tcp 10.0.0.1",
            status: 64,
            stderr: #"""
                Error: Zero port specified for non-persistent service
                Usage: ipvsctl service add <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]
                  See 'ipvsctl service add --help' for more information.

                """#
        ),
        Failure(
            "bad address",
            "service add tcp 300.1.1.1:80",
            status: 64,
            stderr: #"""
                Error: illegal virtual server address[:port] specified
                Usage: ipvsctl service add <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]
                  See 'ipvsctl service add --help' for more information.

                """#
        ),
        Failure(
            "bad port",
            "service add tcp 10.0.0.1:99999",
            status: 64,
            stderr: #"""
                Error: illegal virtual server address[:port] specified
                Usage: ipvsctl service add <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]
                  See 'ipvsctl service add --help' for more information.

                """#
        ),
        Failure(
            "bad port",
            "server add tcp 10.0.0.1:80 10.0.0.2:http0",
            status: 64,
            stderr: #"""
                Error: illegal real server address[:port] specified
                Usage: ipvsctl server add <kind> <address> [--ipv6] <server> [--forwarding <forwarding>] [--weight <weight>] [--upper-threshold <upper-threshold>] [--lower-threshold <lower-threshold>] [--tun-type <tun-type>] [--tun-port <tun-port>] [--tun-checksum <tun-checksum>]
                  See 'ipvsctl server add --help' for more information.

                """#
        ),
        Failure(
            "bad real server address",
            "server delete udp 10.0.0.1:53 10.0.0.256",
            status: 64,
            stderr: #"""
                Error: illegal real server address[:port] specified
                Usage: ipvsctl server delete <kind> <address> [--ipv6] <server>
                  See 'ipvsctl server delete --help' for more information.

                """#
        ),
        Failure(
            "unknown service kind",
            "service add http 10.0.0.1:80",
            status: 64,
            stderr: #"""
                Error: The value 'http' is invalid for '<kind>'. Please provide one of 'tcp', 'udp', 'sctp' or 'fwmark'.
                Help:  <kind>  Service kind.
                Usage: ipvsctl service add <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]
                  See 'ipvsctl service add --help' for more information.

                """#
        ),
        Failure(
            "unknown scheduler flag",
            "service add tcp 10.0.0.1:80 -s sh --sched-flags sh-bogus",
            status: 64,
            stderr: #"""
                Error: invalid scheduler flag `sh-bogus'
                Usage: ipvsctl service add <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]
                  See 'ipvsctl service add --help' for more information.

                """#
        ),
        Failure(
            "--ipv6 outside fwmark",
            "service delete tcp 10.0.0.1:80 --ipv6",
            status: 64,
            stderr: #"""
                Error: --ipv6 is only for fwmark services; write IPv6 addresses as [ADDR]:PORT
                Usage: ipvsctl service delete <kind> <address> [--ipv6]
                  See 'ipvsctl service delete --help' for more information.

                """#
        ),
        Failure(
            "missing argument",
            "service add",
            status: 64,
            stderr: #"""
                Error: Missing expected argument '<kind>'
                Help:  <kind>  Service kind.
                Usage: ipvsctl service add <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]
                  See 'ipvsctl service add --help' for more information.

                """#
        ),
        Failure(
            "missing argument",
            "service edit tcp",
            status: 64,
            stderr: #"""
                Error: Missing expected argument '<address>'
                Help:  <address>  HOST:PORT ([V6]:PORT) for tcp, udp and sctp; the mark for fwmark.
                Usage: ipvsctl service edit <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]
                  See 'ipvsctl service edit --help' for more information.

                """#
        ),
        Failure(
            "missing argument",
            "server add tcp 10.0.0.1:80",
            status: 64,
            stderr: #"""
                Error: Missing expected argument '<server>'
                Help:  <server>  Real server HOST[:PORT].
                Usage: ipvsctl server add <kind> <address> [--ipv6] <server> [--forwarding <forwarding>] [--weight <weight>] [--upper-threshold <upper-threshold>] [--lower-threshold <lower-threshold>] [--tun-type <tun-type>] [--tun-port <tun-port>] [--tun-checksum <tun-checksum>]
                  See 'ipvsctl server add --help' for more information.

                """#
        ),
        Failure(
            "missing option value",
            "service add tcp 10.0.0.1:80 --scheduler",
            status: 64,
            stderr: #"""
                Error: Missing value for '--scheduler <scheduler>'
                Help:  --scheduler <scheduler>  Scheduler (rr, wrr, lc, wlc, sh, mh, ...); default wlc.
                Usage: ipvsctl service add <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]
                  See 'ipvsctl service add --help' for more information.

                """#
        ),
        Failure(
            "unknown option",
            "service add tcp 10.0.0.1:80 --sched rr",
            status: 64,
            stderr: #"""
                Error: Unknown option '--sched'
                Usage: ipvsctl service add <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]
                  See 'ipvsctl service add --help' for more information.

                """#
        ),
        Failure(
            "bad weight",
            "server add tcp 10.0.0.1:80 10.0.0.2 --weight 2147483648",
            status: 64,
            stderr: #"""
                Error: illegal weight specified
                Usage: ipvsctl server add <kind> <address> [--ipv6] <server> [--forwarding <forwarding>] [--weight <weight>] [--upper-threshold <upper-threshold>] [--lower-threshold <lower-threshold>] [--tun-type <tun-type>] [--tun-port <tun-port>] [--tun-checksum <tun-checksum>]
                  See 'ipvsctl server add --help' for more information.

                """#
        ),
        Failure(
            "not a number",
            "server edit tcp 10.0.0.1:80 10.0.0.2 --weight heavy",
            status: 64,
            stderr: #"""
                Error: The value 'heavy' is invalid for '--weight <weight>'
                Help:  --weight <weight>  Weight, 0...2147483647; default 1.
                Usage: ipvsctl server edit <kind> <address> [--ipv6] <server> [--forwarding <forwarding>] [--weight <weight>] [--upper-threshold <upper-threshold>] [--lower-threshold <lower-threshold>] [--tun-type <tun-type>] [--tun-port <tun-port>] [--tun-checksum <tun-checksum>]
                  See 'ipvsctl server edit --help' for more information.

                """#
        ),
        Failure(
            "bad forwarding",
            "server add tcp 10.0.0.1:80 10.0.0.2 --forwarding dr",
            status: 64,
            stderr: #"""
                Error: The value 'dr' is invalid for '--forwarding <forwarding>'. Please provide one of 'route', 'nat' or 'tunnel'.
                Help:  --forwarding <forwarding>  Forwarding: route (default), nat or tunnel.
                Usage: ipvsctl server add <kind> <address> [--ipv6] <server> [--forwarding <forwarding>] [--weight <weight>] [--upper-threshold <upper-threshold>] [--lower-threshold <lower-threshold>] [--tun-type <tun-type>] [--tun-port <tun-port>] [--tun-checksum <tun-checksum>]
                  See 'ipvsctl server add --help' for more information.

                """#
        ),
        Failure(
            "tunnel options need tunnel forwarding",
            "server add tcp 10.0.0.1:80 10.0.0.2 --tun-type gue",
            status: 64,
            stderr: #"""
                Error: Tunnel options conflict with forward method
                Usage: ipvsctl server add <kind> <address> [--ipv6] <server> [--forwarding <forwarding>] [--weight <weight>] [--upper-threshold <upper-threshold>] [--lower-threshold <lower-threshold>] [--tun-type <tun-type>] [--tun-port <tun-port>] [--tun-checksum <tun-checksum>]
                  See 'ipvsctl server add --help' for more information.

                """#
        ),
        Failure(
            "bad persistence netmask",
            "service add fwmark 5 --ipv6 --persistent 60 --netmask 129",
            status: 64,
            stderr: #"""
                Error: illegal ipv6 netmask specified
                Usage: ipvsctl service add <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]
                  See 'ipvsctl service add --help' for more information.

                """#
        ),
        Failure(
            "half a service",
            "list tcp",
            status: 64,
            stderr: #"""
                Error: give both the service kind and address
                Usage: ipvsctl list [--output <output>] [--json] [--stats] [--rate] [--exact] [--thresholds] [--persistent-conn] [--tun-info] [--nosort] [--names] [<kind>] [<address>]
                  See 'ipvsctl list --help' for more information.

                """#
        ),
        Failure(
            "half a service",
            "zero udp",
            status: 64,
            stderr: #"""
                Error: give both the service kind and address
                Usage: ipvsctl zero [<kind>] [<address>]
                  See 'ipvsctl zero --help' for more information.

                """#
        ),
        Failure(
            "bad timeout",
            "timeout set 900 120 soon",
            status: 64,
            stderr: #"""
                Error: invalid timeout value `soon' specified
                Usage: ipvsctl timeout set <tcp> <tcpfin> <udp>
                  See 'ipvsctl timeout set --help' for more information.

                """#
        ),
        Failure(
            "missing timeout",
            "timeout set 900 120",
            status: 64,
            stderr: #"""
                Error: Missing expected argument '<udp>'
                Help:  <udp>  UDP timeout.
                Usage: ipvsctl timeout set <tcp> <tcpfin> <udp>
                  See 'ipvsctl timeout set --help' for more information.

                """#
        ),
        Failure(
            "bad daemon state",
            "daemon start primary",
            status: 64,
            stderr: #"""
                Error: The value 'primary' is invalid for '<state>'. Please provide one of 'master' and 'backup'.
                Help:  <state>  master or backup.
                Usage: ipvsctl daemon start <state> [--interface <interface>] [--syncid <syncid>] [--sync-maxlen <sync-maxlen>] [--mcast-group <mcast-group>] [--mcast-port <mcast-port>] [--mcast-ttl <mcast-ttl>]
                  See 'ipvsctl daemon start --help' for more information.

                """#
        ),
        Failure(
            "bad syncid",
            "daemon start master --syncid 256",
            status: 64,
            stderr: #"""
                Error: illegal syncid specified
                Usage: ipvsctl daemon start <state> [--interface <interface>] [--syncid <syncid>] [--sync-maxlen <sync-maxlen>] [--mcast-group <mcast-group>] [--mcast-port <mcast-port>] [--mcast-ttl <mcast-ttl>]
                  See 'ipvsctl daemon start --help' for more information.

                """#
        ),
        Failure(
            "bad multicast group",
            "daemon start backup --mcast-group 10.0.0.1",
            status: 64,
            stderr: #"""
                Error: invalid IPv4 mcast-group `10.0.0.1'
                Usage: ipvsctl daemon start <state> [--interface <interface>] [--syncid <syncid>] [--sync-maxlen <sync-maxlen>] [--mcast-group <mcast-group>] [--mcast-port <mcast-port>] [--mcast-ttl <mcast-ttl>]
                  See 'ipvsctl daemon start --help' for more information.

                """#
        ),
        Failure(
            "bad multicast port",
            "daemon start master --mcast-port 0",
            status: 64,
            stderr: #"""
                Error: illegal mcast-port specified
                Usage: ipvsctl daemon start <state> [--interface <interface>] [--syncid <syncid>] [--sync-maxlen <sync-maxlen>] [--mcast-group <mcast-group>] [--mcast-port <mcast-port>] [--mcast-ttl <mcast-ttl>]
                  See 'ipvsctl daemon start --help' for more information.

                """#
        ),
        Failure(
            "bad multicast ttl",
            "daemon start master --mcast-ttl 256",
            status: 64,
            stderr: #"""
                Error: illegal mcast-ttl specified
                Usage: ipvsctl daemon start <state> [--interface <interface>] [--syncid <syncid>] [--sync-maxlen <sync-maxlen>] [--mcast-group <mcast-group>] [--mcast-port <mcast-port>] [--mcast-ttl <mcast-ttl>]
                  See 'ipvsctl daemon start --help' for more information.

                """#
        ),
        Failure(
            "bad sync maxlen",
            "daemon start master --sync-maxlen 70000",
            status: 64,
            stderr: #"""
                Error: illegal sync-maxlen specified
                Usage: ipvsctl daemon start <state> [--interface <interface>] [--syncid <syncid>] [--sync-maxlen <sync-maxlen>] [--mcast-group <mcast-group>] [--mcast-port <mcast-port>] [--mcast-ttl <mcast-ttl>]
                  See 'ipvsctl daemon start --help' for more information.

                """#
        ),
        Failure(
            "bad output format",
            "list --output yaml",
            status: 64,
            stderr: #"""
                Error: The value 'yaml' is invalid for '--output <output>'. Please provide one of 'text' and 'json'.
                Help:  --output <output>  Output format: text or json.
                Usage: ipvsctl list [--output <output>] [--json] [--stats] [--rate] [--exact] [--thresholds] [--persistent-conn] [--tun-info] [--nosort] [--names] [<kind>] [<address>]
                  See 'ipvsctl list --help' for more information.

                """#
        ),
        Failure(
            "unknown subcommand",
            "lst",
            status: 64,
            stderr: #"""
                Error: Unexpected argument 'lst'
                Usage: ipvsctl <subcommand>
                  See 'ipvsctl --help' for more information.

                """#
        ),
        Failure(
            "unknown subcommand",
            "service create tcp 10.0.0.1:80",
            status: 64,
            stderr: #"""
                Error: 3 unexpected arguments: 'create', 'tcp', '10.0.0.1:80'
                Usage: ipvsctl service <subcommand>
                  See 'ipvsctl service --help' for more information.

                """#
        ),
        Failure(
            "ipvsadm syntax: bad port",
            "-A -t 10.0.0.1:99999",
            status: 2,
            stderr: #"""
                illegal virtual server address[:port] specified

                """#
        ),
        Failure(
            "ipvsadm syntax: missing argument",
            "-A -t 10.0.0.1:80 -s",
            status: 255,
            stderr: #"""
                -s: missing argument

                """#
        ),
        Failure(
            "ipvsadm syntax: unknown scheduler flag",
            "-A -t 10.0.0.1:80 -b bogus",
            status: 2,
            stderr: #"""
                invalid scheduler flag `bogus'

                """#
        ),
        Failure(
            "ipvsadm syntax: no command first",
            "-n -L",
            status: 255,
            stderr: #"""
                Try `ipvsctl -h' or 'ipvsctl --help' for more information.

                """#
        ),
    ]

    @Test(arguments: failures)
    func badArgumentsFailExactly(_ failure: Failure) throws {
        let result = try IPVSCtlBinary.run(failure.line)
        #expect(result == .init(status: failure.status, stdout: "", stderr: failure.stderr))
    }

    /// Whether this host has no IPVS at all: no `/proc/net/ip_vs` and no ipvs modules for the running kernel.
    static let hostLacksIPVS: Bool = {
        let release =
            (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let manager = FileManager.default
        return !release.isEmpty && !manager.fileExists(atPath: "/proc/net/ip_vs")
            && !manager.fileExists(atPath: "/lib/modules/\(release)/kernel/net/netfilter/ipvs")
    }()

    static let unavailable = """
        Can't initialize ipvs: Protocol not available
        Are you sure that IP Virtual Server is built in the kernel or as module?
        hint: load the IPVS module with `modprobe ip_vs` (the kernel needs CONFIG_IP_VS)

        """

    /// ipvsadm's message (status 2) plus the hint, in both syntaxes, for reads, changes and JSON; help and
    /// argument errors still work.
    @Test(
        .enabled(if: hostLacksIPVS, "the host kernel has IPVS"),
        arguments: [
            "-L -n", "-A -t 10.0.0.1:80 -s rr", "-C", "list", "list --json", "service add tcp 10.0.0.1:80",
            "timeout get --output json", "daemon list --json",
        ]
    )
    func withoutIPVS(line: String) throws {
        #expect(try IPVSCtlBinary.run(line) == .init(status: 2, stdout: "", stderr: Self.unavailable))
    }

    @Test(.enabled(if: hostLacksIPVS, "the host kernel has IPVS"))
    func withoutIPVSHelpAndArgumentErrorsStillWork() throws {
        let help = try IPVSCtlBinary.run("-h")
        #expect(help.status == 0)
        #expect(help.stdout.hasPrefix("ipvsctl v1.0.0 (ipvsadm v1.31 compatible, IPVS v1.2.1)\nUsage:\n"))
        #expect(try IPVSCtlBinary.run("-A -t 10.0.0.1:99999").status == 2)
        #expect(try IPVSCtlBinary.run("list --help").status == 0)
    }
}

/// Issue 15's one output convention: every subcommand that prints data takes `-o json` (and its aliases).
@Suite struct IPVSCtlOutputConventionTests {
    @Test(arguments: ["status", "services", "health"], ["-o json", "--output json", "-O json", "--json"])
    func agentViewsTakeTheOutputOption(view: String, option: String) throws {
        // The socket does not exist, so the command gets past parsing and fails on the request (status 1,
        // the socket named), where an unknown option would be a usage error naming the option.
        let result = try IPVSCtlBinary.run("agent \(view) \(option) --socket /nonexistent-ipvsd/admin.sock")
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent-ipvsd/admin.sock"))
    }

    @Test func anUnknownFormatIsAUsageError() throws {
        let result = try IPVSCtlBinary.run("agent status -o yaml")
        #expect(result.status != 0 && result.status != 1)
        #expect(result.stderr.contains("yaml"))
    }
}

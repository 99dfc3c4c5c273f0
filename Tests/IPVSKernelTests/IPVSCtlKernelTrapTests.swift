import Foundation
import IPVS
import TestSupport
import Testing

/// The ipvsctl binary built next to the test bundle.
enum IPVSCtlPath {
    static let path = ChildProcess.builtProduct("ipvsctl")
}

extension KernelSandbox {
    /// Runs a shell script in the sandbox with `$IPVSCTL` naming the ipvsctl binary.
    func script(_ text: String) throws -> CommandResult {
        try runAllowingFailure(["env", "IPVSCTL=\(IPVSCtlPath.path)", "sh", "-c", text])
    }

    /// `ipvsctl ARGS` (split on spaces) in the sandbox.
    func ipvsctl(_ line: String) throws -> CommandResult {
        try runAllowingFailure([IPVSCtlPath.path] + line.split(separator: " ").map(String.init))
    }
}

/// ipvsctl's sync daemons and the common traps, against real ipvsadm on a real kernel: the same bytes from
/// both (ipvsctl may add `hint:` lines), and ipvsctl's hints exactly.
@Suite(.enabled(if: KernelTests.enabled), .serialized)
struct IPVSCtlKernelTrapTests {
    /// A dummy interface that is up; dummies carry no IFF_MULTICAST by default, which the kernel does not need.
    static let dummy = "ip link add d0 type dummy && ip link set d0 up"

    enum Syntax: String, CaseIterable, CustomTestStringConvertible {
        case ipvsadm, subcommands
        var testDescription: String { rawValue }
    }

    static let startMaster = "--start-daemon master --mcast-interface d0 --syncid 7"
    static let startBackup =
        "--start-daemon backup --mcast-interface d0 --syncid 8 --mcast-group 239.1.2.3 --mcast-port 8849"
        + " --mcast-ttl 3 --sync-maxlen 1400"

    @Test(arguments: Syntax.allCases)
    func syncDaemonsMatchIpvsadm(syntax: Syntax) throws {
        let viaIpvsadm = try KernelSandbox()
        let viaIpvsctl = try KernelSandbox()
        try viaIpvsadm.run("sh", "-c", Self.dummy)
        try viaIpvsctl.run("sh", "-c", Self.dummy)
        try viaIpvsadm.run("sh", "-c", "ipvsadm \(Self.startMaster) && ipvsadm \(Self.startBackup)")
        let start =
            switch syntax {
            case .ipvsadm: "$IPVSCTL \(Self.startMaster) && $IPVSCTL \(Self.startBackup)"
            case .subcommands:
                "$IPVSCTL daemon start master --interface d0 --syncid 7 && $IPVSCTL daemon start backup"
                    + " --mcast-interface d0 --syncid 8 --mcast-group 239.1.2.3 --mcast-port 8849 --mcast-ttl 3"
                    + " --sync-maxlen 1400"
            }
        #expect(try viaIpvsctl.script(start) == CommandResult(status: 0, stdout: "", stderr: ""))

        let expected = """
            master sync daemon (mcast=d0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
            backup sync daemon (mcast=d0, syncid=8, maxlen=1400, group=239.1.2.3, port=8849, ttl=3)

            """
        let reference = try viaIpvsadm.ipvsadm("-L", "--daemon")
        #expect(reference == expected)
        #expect(try viaIpvsctl.ipvsadm("-L", "--daemon") == reference)
        #expect(try viaIpvsctl.ipvsctl("-L --daemon") == CommandResult(status: 0, stdout: reference, stderr: ""))
        #expect(try viaIpvsadm.ipvsctl("daemon list") == CommandResult(status: 0, stdout: reference, stderr: ""))
        #expect(
            try viaIpvsctl.ipvsctl("daemon list --json").stdout == """
                {
                  "daemons": [
                    {
                      "state": "master",
                      "interface": "d0",
                      "syncID": 7,
                      "maximumLength": 1472,
                      "multicastGroup": "224.0.0.81",
                      "multicastPort": 8848,
                      "multicastTTL": 1
                    },
                    {
                      "state": "backup",
                      "interface": "d0",
                      "syncID": 8,
                      "maximumLength": 1400,
                      "multicastGroup": "239.1.2.3",
                      "multicastPort": 8849,
                      "multicastTTL": 3
                    }
                  ]
                }

                """
        )
        // A second start of the same state: the kernel's EEXIST, in ipvsadm's words.
        let again = try viaIpvsadm.script("ipvsadm \(Self.startMaster)")
        #expect(again == CommandResult(status: 255, stdout: "", stderr: "Daemon has already run\n"))
        #expect(try viaIpvsctl.script("$IPVSCTL \(Self.startMaster)") == again)

        try viaIpvsadm.run("sh", "-c", "ipvsadm --stop-daemon master && ipvsadm --stop-daemon backup")
        let stop =
            switch syntax {
            case .ipvsadm: "$IPVSCTL --stop-daemon master && $IPVSCTL --stop-daemon backup"
            case .subcommands: "$IPVSCTL daemon stop master && $IPVSCTL daemon stop backup"
            }
        #expect(try viaIpvsctl.script(stop) == CommandResult(status: 0, stdout: "", stderr: ""))
        #expect(try viaIpvsadm.ipvsadm("-L", "--daemon") == "")
        #expect(try viaIpvsctl.ipvsadm("-L", "--daemon") == "")
        #expect(try viaIpvsctl.ipvsctl("-L --daemon") == CommandResult(status: 0, stdout: "", stderr: ""))
        #expect(try viaIpvsctl.ipvsctl("daemon list --json").stdout == "{\n  \"daemons\": []\n}\n")
        let stopped = try viaIpvsadm.script("ipvsadm --stop-daemon master")
        #expect(stopped == CommandResult(status: 255, stdout: "", stderr: "No daemon is running\n"))
        #expect(try viaIpvsctl.script("$IPVSCTL daemon stop master") == stopped)
    }

    /// Why a daemon start fails: EINVAL comes from a real server of the other family (the sync protocol
    /// cannot carry it), not from the interface; a missing interface is ENODEV, a master on a down one
    /// ENETUNREACH.
    @Test func syncDaemonRefusalsMatchIpvsadmWithHints() throws {
        let sandbox = try KernelSandbox()
        try sandbox.run(
            "sh",
            "-c",
            "ip link add d0 type dummy && ip link set d0 up && ip link add d1 type dummy"
                + " && ipvsadm -A -t [fd00::1]:443 && ipvsadm -a -t [fd00::1]:443 -r 10.0.0.7 -i"
        )
        let cases: [(String, String)] = [
            (
                "--start-daemon master --mcast-interface d0",
                """
                Invalid operation.  Possibly wrong module version, address not unicast, ...
                hint: the kernel refuses sync daemons while a service has a real server of another address family \
                (a tunnel); delete it first

                """
            ),
            // The family check comes first in the kernel: EINVAL even for an interface that does not exist.
            (
                "--start-daemon backup --mcast-interface nosuch",
                """
                Invalid operation.  Possibly wrong module version, address not unicast, ...
                hint: the kernel refuses sync daemons while a service has a real server of another address family \
                (a tunnel); delete it first

                """
            ),
        ]
        for (line, stderr) in cases {
            let reference = try sandbox.script("ipvsadm \(line)")
            let mine = try sandbox.ipvsctl(line)
            #expect(mine == CommandResult(status: 255, stdout: "", stderr: stderr), "\(line)")
            #expect(withoutHints(mine.stderr) == reference.stderr, "\(line)")
            #expect(mine.status == reference.status, "\(line)")
        }
        // With the mixed-family server gone: a missing interface, then a master on a down one.
        try sandbox.ipvsadm("-C")
        let noDevice = try sandbox.script("ipvsadm --start-daemon backup --mcast-interface nosuch")
        #expect(noDevice == CommandResult(status: 255, stdout: "", stderr: "No such device\n"))
        #expect(
            try sandbox.ipvsctl("daemon start backup --interface nosuch")
                == CommandResult(
                    status: 255,
                    stdout: "",
                    stderr: "No such device\nhint: no interface 'nosuch' in this network namespace; name one with"
                        + " --mcast-interface\n"
                )
        )
        let reference = try sandbox.script("ipvsadm --start-daemon master --mcast-interface d1")
        let mine = try sandbox.ipvsctl("daemon start master --interface d1")
        #expect(
            mine
                == CommandResult(
                    status: 255,
                    stdout: "",
                    stderr: "Network is unreachable\nhint: a master sync daemon needs its interface up:"
                        + " `ip link set d1 up`\n"
                )
        )
        #expect(withoutHints(mine.stderr) == reference.stderr)
        #expect(mine.status == reference.status)
        // And while a daemon runs, the kernel refuses a real server of the other family.
        try sandbox.ipvsadm("--start-daemon", "backup", "--mcast-interface", "d0")
        try sandbox.ipvsadm("-A", "-t", "[fd00::1]:443")
        let mixed = try sandbox.ipvsctl("server add tcp [fd00::1]:443 10.0.0.7 --forwarding tunnel")
        #expect(
            mixed
                == CommandResult(
                    status: 255,
                    stdout: "",
                    stderr: """
                        Invalid operation.  Possibly wrong module version, address not unicast, ...
                        hint: the kernel refuses a real server of another address family while a sync daemon runs \
                        (`ipvsctl -L --daemon`)

                        """
                )
        )
    }

    static let noCapability = """
        Can't initialize ipvs: Permission denied (you must be root)
        Are you sure that IP Virtual Server is built in the kernel or as module?
        hint: IPVS needs CAP_NET_ADMIN (in the host's initial user namespace): run as root

        """

    /// Without CAP_NET_ADMIN (an unprivileged user, or root of a user namespace): ipvsadm's message and status
    /// (it also runs modprobe, whose complaint is not ipvsadm's), plus the hint, before any change is tried.
    @Test func withoutCapNetAdmin() throws {
        let sandbox = try KernelSandbox()
        let dropPrivileges = "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all"
        let userNamespace = "unshare --user --map-root-user --net"
        for line in ["-L -n", "-A -t 10.0.0.1:80 -s rr", "--start-daemon master --mcast-interface lo"] {
            let reference = try sandbox.script("\(dropPrivileges) ipvsadm \(line)")
            let referenceText = reference.stderr.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("modprobe:") }.joined(separator: "\n")
            for wrapper in [dropPrivileges, userNamespace] {
                let mine = try sandbox.script("\(wrapper) $IPVSCTL \(line)")
                #expect(mine == CommandResult(status: 2, stdout: "", stderr: Self.noCapability), "\(wrapper) \(line)")
                #expect(withoutHints(mine.stderr) == referenceText, "\(line)")
                #expect(mine.status == reference.status, "\(line)")
            }
        }
        for line in ["list", "list --json", "service add tcp 10.0.0.1:80", "daemon list --json", "timeout get"] {
            let mine = try sandbox.script("\(dropPrivileges) $IPVSCTL \(line)")
            #expect(mine == CommandResult(status: 2, stdout: "", stderr: Self.noCapability), "\(line)")
        }
    }

    /// A scheduler the kernel has no module for: ipvsadm's message, status 255, and the modprobe hint.
    @Test func missingSchedulerModule() throws {
        let sandbox = try KernelSandbox()
        let reference = try sandbox.script("ipvsadm -A -t 10.0.0.1:80 -s nosuch")
        #expect(
            reference
                == CommandResult(status: 255, stdout: "", stderr: "Scheduler or persistence engine not found\n")
        )
        let expected = CommandResult(
            status: 255,
            stdout: "",
            stderr: "Scheduler or persistence engine not found\n"
                + "hint: the kernel has no scheduler 'nosuch': try `modprobe ip_vs_nosuch`\n"
        )
        #expect(try sandbox.ipvsctl("-A -t 10.0.0.1:80 -s nosuch") == expected)
        #expect(try sandbox.ipvsctl("service add tcp 10.0.0.1:80 --scheduler nosuch") == expected)
        #expect(try sandbox.ipvsadm("-Sn") == "")
    }

    /// NAT destinations the kernel refuses (multicast, broadcast, unspecified): ipvsadm's EINVAL text plus
    /// the hint; a unicast address without a route is accepted, as by the kernel.
    @Test func natDestinationRefusedByTheKernel() throws {
        let sandbox = try KernelSandbox()
        try sandbox.run(
            "sh",
            "-c",
            "ip link add d0 type dummy && ip link set d0 up && ip addr add 10.1.0.1/24 dev d0"
                + " && ipvsadm -A -t 10.1.0.1:80"
        )
        for server in ["224.0.0.1:80", "10.1.0.255:80", "0.0.0.0:80"] {
            let address = String(server.split(separator: ":")[0])
            let reference = try sandbox.script("ipvsadm -a -t 10.1.0.1:80 -r \(server) -m")
            let expected = CommandResult(
                status: 255,
                stdout: "",
                stderr: """
                    Invalid operation.  Possibly wrong module version, address not unicast, ...
                    hint: the kernel refused real server \(address): it must be a unicast or local address, not \
                    multicast, broadcast or unspecified (check `ip route get \(address)`)

                    """
            )
            #expect(withoutHints(expected.stderr) == reference.stderr, "\(server)")
            #expect(reference.status == 255)
            #expect(try sandbox.ipvsctl("-a -t 10.1.0.1:80 -r \(server) -m") == expected)
            #expect(try sandbox.ipvsctl("server add tcp 10.1.0.1:80 \(server) --forwarding nat") == expected)
        }
        #expect(try sandbox.ipvsctl("server add tcp 10.1.0.1:80 192.0.2.9:80 -f nat").status == 0)
        #expect(try sandbox.ipvsadm("-Sn") == "-A -t 10.1.0.1:80 -s wlc\n-a -t 10.1.0.1:80 -r 192.0.2.9:80 -m -w 1\n")
    }

    /// `list`'s flags print what ipvsadm's options print; its JSON does not depend on them.
    @Test func listFlagsMatchIpvsadm() throws {
        let sandbox = try KernelSandbox()
        _ = try sandbox.runAllowingFailure(["ipvsadm", "-R"], input: IPVSCtlDifferentialTests.corpus + "\n")
        let pairs = [
            ("list", "-Ln"), ("list --stats", "-Ln --stats"), ("list --rate --exact", "-Ln --rate --exact"),
            ("list --thresholds", "-Ln --thresholds"), ("list --persistent-conn", "-Ln --persistent-conn"),
            ("list --tun-info", "-Ln --tun-info"), ("list --nosort", "-Ln --nosort"),
            ("list --nosort --tun-info", "-Ln --nosort --tun-info"), ("list --names --stats", "-L --stats"),
            ("list udp 10.0.0.1:53 --tun-info", "-Ln -u 10.0.0.1:53 --tun-info"),
            ("list tcp 10.0.0.1:99", "-Ln -t 10.0.0.1:99"),
        ]
        let separator = "=====IPVSCTL====="
        let script = pairs.map {
            "$IPVSCTL \($0.0) 2>&1; echo $?; echo \(separator); ipvsadm \($0.1) 2>&1; echo $?; echo \(separator)"
        }
        .joined(separator: "\n")
        let parts = try sandbox.script(script).stdout.components(separatedBy: separator + "\n")
        #expect(parts.count == 2 * pairs.count + 1)
        for (index, pair) in pairs.enumerated() where 2 * index + 1 < parts.count {
            #expect(parts[2 * index] == parts[2 * index + 1], "ipvsctl \(pair.0) vs ipvsadm \(pair.1)")
        }

        let json = try sandbox.ipvsctl("list --json")
        #expect(json.status == 0)
        #expect(json.stdout.contains("\"tunnelType\": \"gue\""))
        for flags in ["--stats", "--rate", "--exact", "--thresholds", "--persistent-conn", "--tun-info"] {
            #expect(try sandbox.ipvsctl("list --json \(flags)") == json, "\(flags)")
        }
        let unsorted = try sandbox.ipvsctl("list --json --nosort")
        #expect(unsorted.status == 0)
        #expect(unsorted.stdout.count == json.stdout.count)
        let missing = try sandbox.ipvsctl("list tcp 10.0.0.1:99 --json")
        #expect(missing == CommandResult(status: 1, stdout: "", stderr: "No such service\n"))
    }
}

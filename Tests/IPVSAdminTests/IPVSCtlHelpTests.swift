import Testing

/// The exact `--help` of every ipvsctl subcommand (80 columns), as a user reads it: each teaches by example.
///
/// When a help text changes on purpose, update it here; the diff is the review.
@Suite(.enabled(if: IPVSCtlBinary.exists, "needs the ipvsctl binary next to the test bundle"))
struct IPVSCtlHelpTests {
    static let commands = [
        "",
        "list",
        "service",
        "service add",
        "service edit",
        "service delete",
        "server",
        "server add",
        "server edit",
        "server delete",
        "zero",
        "flush",
        "save",
        "restore",
        "diff",
        "apply",
        "timeout",
        "timeout get",
        "timeout set",
        "daemon",
        "daemon start",
        "daemon stop",
        "daemon list",
        "explain",
    ]

    @Test(arguments: commands)
    func helpIsExact(command: String) throws {
        let result = try IPVSCtlBinary.run(command.split(separator: " ").map(String.init) + ["--help"])
        #expect(result == .init(status: 0, stdout: try #require(Self.help[command]), stderr: ""))
    }

    @Test(arguments: commands)
    func everyCommandTeachesByExample(command: String) throws {
        let text = try #require(Self.help[command])
        let prefix = command.isEmpty ? "ipvsctl " : "ipvsctl \(command.split(separator: " ")[0])"
        let examples = try #require(text.range(of: "EXAMPLES:\n  " + prefix), "\(command)")
        #expect(examples.lowerBound < text.range(of: "USAGE:")!.lowerBound)
    }

    @Test func helpSubcommandAndDashDashHelpAgree() throws {
        #expect(try IPVSCtlBinary.run(["help", "server", "add"]).stdout == Self.help["server add"])
        #expect(try IPVSCtlBinary.run(["--help"]).stdout == Self.help[""])
    }

    static let help: [String: String] = [
        "": #"""
        OVERVIEW: Administer Linux IPVS; ipvsadm-compatible, with readable subcommands.

        Every ipvsadm command line works as is (ipvsctl -A -t 10.96.0.10:80 -s rr,
        ipvsctl -Ln, ...); ipvsctl -h prints ipvsadm's option summary. See
        docs/ipvsctl.md.

        EXAMPLES:
          ipvsctl service add tcp 10.96.0.10:80 --scheduler rr
          ipvsctl server add tcp 10.96.0.10:80 10.244.1.5:8080 --forwarding nat
          ipvsctl list --stats
          ipvsctl save > rules && ipvsctl diff rules && ipvsctl apply rules

        USAGE: ipvsctl <subcommand>

        OPTIONS:
          -h, --help              Show help information.

        SUBCOMMANDS:
          list                    List virtual services and real servers (ipvsadm -L
                                  -n).
          service                 Add, edit or delete a virtual service (ipvsadm -A,
                                  -E, -D).
          server                  Add, edit or delete a real server (ipvsadm -a, -e,
                                  -d).
          zero                    Zero the counters of one service, or of all (ipvsadm
                                  -Z).
          flush                   Delete every virtual service (ipvsadm -C).
          save                    Print the table as ipvsadm commands (ipvsadm -S -n).
          restore                 Add the rules of a file (ipvsadm -R); validates every
                                  line before applying any.
          diff                    Show what `ipvsctl apply FILE` would change; exit 0
                                  when nothing, 1 when something differs.
          apply                   Make the kernel's table equal to a rules file: add,
                                  update and delete only what differs.
          timeout                 Show or set connection timeouts (ipvsadm -L
                                  --timeout, --set).
          daemon                  Start, stop or list connection sync daemons (ipvsadm
                                  --start-daemon, --stop-daemon).
          agent                   Show the ipvsd agent's view through its admin socket.
          explain                 Walk the checklist of a Service that does not answer,
                                  from ipvsd's view and the kernel's.

          See 'ipvsctl help <subcommand>' for detailed help.

        """#,
        "list": #"""
        OVERVIEW: List virtual services and real servers (ipvsadm -L -n).

        The text output is ipvsadm's, byte for byte. JSON always carries counters,
        rates, thresholds, persistent connections and tunnel settings, so --stats,
        --rate, --exact, --thresholds, --persistent-conn and --tun-info do not change
        it; --nosort keeps the kernel's order there too.

        EXAMPLES:
          ipvsctl list                       # like ipvsadm -L -n
          ipvsctl list --stats               # counters
          ipvsctl list --rate --exact        # rates, unabbreviated
          ipvsctl list --tun-info            # tunnel type, port and checksum
          ipvsctl list tcp 10.96.0.10:80     # one service
          ipvsctl list -o json               # JSON, schema in docs/ipvsctl.md

        USAGE: ipvsctl list [--output <output>] [--json] [--stats] [--rate] [--exact] [--thresholds] [--persistent-conn] [--tun-info] [--nosort] [--names] [<kind>] [<address>]

        ARGUMENTS:
          <kind>                  Service kind. (values: tcp, udp, sctp, fwmark)
          <address>               Service address.

        OPTIONS:
          -o, -O, --output <output>
                                  Output format: text or json. (values: text, json;
                                  default: text)
          --json                  Same as --output json.
          --stats                 Counters (ipvsadm --stats).
          --rate                  Rates (ipvsadm --rate).
          --exact                 Exact numbers, not K/M/G (ipvsadm --exact).
          --thresholds            Connection thresholds (ipvsadm --thresholds).
          --persistent-conn       Persistent connections (ipvsadm --persistent-conn).
          --tun-info              Tunnel type, port and checksum (ipvsadm --tun-info).
          --nosort                Kernel order, not sorted (ipvsadm --nosort).
          --names                 Resolve names like ipvsadm without -n.
          -h, --help              Show help information.


        """#,
        "service": #"""
        OVERVIEW: Add, edit or delete a virtual service (ipvsadm -A, -E, -D).

        EXAMPLES:
          ipvsctl service add tcp 10.96.0.10:80 --scheduler rr
          ipvsctl service edit tcp 10.96.0.10:80 --scheduler wrr
          ipvsctl service delete tcp 10.96.0.10:80

        USAGE: ipvsctl service <subcommand>

        OPTIONS:
          -h, --help              Show help information.

        SUBCOMMANDS:
          add                     Add a virtual service (ipvsadm -A).
          edit                    Replace a virtual service's settings (ipvsadm -E).
          delete                  Delete a virtual service and its real servers
                                  (ipvsadm -D).

          See 'ipvsctl help service <subcommand>' for detailed help.

        """#,
        "service add": #"""
        OVERVIEW: Add a virtual service (ipvsadm -A).

        EXAMPLES:
          ipvsctl service add tcp 10.96.0.10:80 --scheduler rr
          ipvsctl service add udp 10.96.0.10:53 -s sh --sched-flags sh-port --ops
          ipvsctl service add tcp [fd00::10]:443 --persistent 300 --netmask 64
          ipvsctl service add fwmark 7 --persistent 300

        USAGE: ipvsctl service add <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]

        ARGUMENTS:
          <kind>                  Service kind. (values: tcp, udp, sctp, fwmark)
          <address>               HOST:PORT ([V6]:PORT) for tcp, udp and sctp; the mark
                                  for fwmark.

        OPTIONS:
          --ipv6                  IPv6 firewall-mark service.
          -s, --scheduler <scheduler>
                                  Scheduler (rr, wrr, lc, wlc, sh, mh, ...); default
                                  wlc.
          --persistent <persistent>
                                  Persistence timeout in seconds.
          --netmask <netmask>     Persistence netmask (IPv4 mask or IPv6 prefix length).
          --pe <pe>               Persistence engine, such as sip.
          --sched-flags <sched-flags>
                                  Scheduler flags, comma-separated (sh-port,
                                  sh-fallback, mh-port, ...).
          --ops                   One-packet scheduling (UDP).
          -h, --help              Show help information.


        """#,
        "service edit": #"""
        OVERVIEW: Replace a virtual service's settings (ipvsadm -E).

        Settings not given return to their defaults, as with ipvsadm -E.

        EXAMPLES:
          ipvsctl service edit tcp 10.96.0.10:80 --scheduler wrr
          ipvsctl service edit fwmark 7 --scheduler rr --persistent 600

        USAGE: ipvsctl service edit <kind> <address> [--ipv6] [--scheduler <scheduler>] [--persistent <persistent>] [--netmask <netmask>] [--pe <pe>] [--sched-flags <sched-flags>] [--ops]

        ARGUMENTS:
          <kind>                  Service kind. (values: tcp, udp, sctp, fwmark)
          <address>               HOST:PORT ([V6]:PORT) for tcp, udp and sctp; the mark
                                  for fwmark.

        OPTIONS:
          --ipv6                  IPv6 firewall-mark service.
          -s, --scheduler <scheduler>
                                  Scheduler (rr, wrr, lc, wlc, sh, mh, ...); default
                                  wlc.
          --persistent <persistent>
                                  Persistence timeout in seconds.
          --netmask <netmask>     Persistence netmask (IPv4 mask or IPv6 prefix length).
          --pe <pe>               Persistence engine, such as sip.
          --sched-flags <sched-flags>
                                  Scheduler flags, comma-separated (sh-port,
                                  sh-fallback, mh-port, ...).
          --ops                   One-packet scheduling (UDP).
          -h, --help              Show help information.


        """#,
        "service delete": #"""
        OVERVIEW: Delete a virtual service and its real servers (ipvsadm -D).

        EXAMPLES:
          ipvsctl service delete tcp 10.96.0.10:80
          ipvsctl service delete fwmark 5 --ipv6

        USAGE: ipvsctl service delete <kind> <address> [--ipv6]

        ARGUMENTS:
          <kind>                  Service kind. (values: tcp, udp, sctp, fwmark)
          <address>               HOST:PORT ([V6]:PORT) for tcp, udp and sctp; the mark
                                  for fwmark.

        OPTIONS:
          --ipv6                  IPv6 firewall-mark service.
          -h, --help              Show help information.


        """#,
        "server": #"""
        OVERVIEW: Add, edit or delete a real server (ipvsadm -a, -e, -d).

        EXAMPLES:
          ipvsctl server add tcp 10.96.0.10:80 10.244.1.5:8080 --forwarding nat
          ipvsctl server edit tcp 10.96.0.10:80 10.244.1.5:8080 -f nat --weight 0
          ipvsctl server delete tcp 10.96.0.10:80 10.244.1.5:8080

        USAGE: ipvsctl server <subcommand>

        OPTIONS:
          -h, --help              Show help information.

        SUBCOMMANDS:
          add                     Add a real server to a virtual service (ipvsadm -a).
          edit                    Replace a real server's settings (ipvsadm -e).
          delete                  Delete a real server (ipvsadm -d).

          See 'ipvsctl help server <subcommand>' for detailed help.

        """#,
        "server add": #"""
        OVERVIEW: Add a real server to a virtual service (ipvsadm -a).

        EXAMPLES:
          ipvsctl server add tcp 10.96.0.10:80 10.244.1.5:8080 -f nat --weight 2
          ipvsctl server add tcp 10.96.0.10:80 10.244.1.6 --upper-threshold 100 \
              --lower-threshold 50
          ipvsctl server add udp 10.96.0.10:53 10.0.0.4 --forwarding tunnel \
              --tun-type gue --tun-port 6080

        USAGE: ipvsctl server add <kind> <address> [--ipv6] <server> [--forwarding <forwarding>] [--weight <weight>] [--upper-threshold <upper-threshold>] [--lower-threshold <lower-threshold>] [--tun-type <tun-type>] [--tun-port <tun-port>] [--tun-checksum <tun-checksum>]

        ARGUMENTS:
          <kind>                  Service kind. (values: tcp, udp, sctp, fwmark)
          <address>               HOST:PORT ([V6]:PORT) for tcp, udp and sctp; the mark
                                  for fwmark.
          <server>                Real server HOST[:PORT].

        OPTIONS:
          --ipv6                  IPv6 firewall-mark service.
          -f, --forwarding <forwarding>
                                  Forwarding: route (default), nat or tunnel. (values:
                                  route, nat, tunnel)
          -w, --weight <weight>   Weight, 0...2147483647; default 1.
          --upper-threshold <upper-threshold>
                                  Upper connection threshold.
          --lower-threshold <lower-threshold>
                                  Lower connection threshold.
          --tun-type <tun-type>   Tunnel type: ipip (default), gue or gre. (values:
                                  ipip, gue, gre)
          --tun-port <tun-port>   GUE destination port.
          --tun-checksum <tun-checksum>
                                  Tunnel checksum: none, checksum or remote. (values:
                                  none, checksum, remote)
          -h, --help              Show help information.


        """#,
        "server edit": #"""
        OVERVIEW: Replace a real server's settings (ipvsadm -e).

        Settings not given return to their defaults, as with ipvsadm -e.

        EXAMPLES:
          ipvsctl server edit tcp 10.96.0.10:80 10.244.1.5:8080 -f nat --weight 0

        USAGE: ipvsctl server edit <kind> <address> [--ipv6] <server> [--forwarding <forwarding>] [--weight <weight>] [--upper-threshold <upper-threshold>] [--lower-threshold <lower-threshold>] [--tun-type <tun-type>] [--tun-port <tun-port>] [--tun-checksum <tun-checksum>]

        ARGUMENTS:
          <kind>                  Service kind. (values: tcp, udp, sctp, fwmark)
          <address>               HOST:PORT ([V6]:PORT) for tcp, udp and sctp; the mark
                                  for fwmark.
          <server>                Real server HOST[:PORT].

        OPTIONS:
          --ipv6                  IPv6 firewall-mark service.
          -f, --forwarding <forwarding>
                                  Forwarding: route (default), nat or tunnel. (values:
                                  route, nat, tunnel)
          -w, --weight <weight>   Weight, 0...2147483647; default 1.
          --upper-threshold <upper-threshold>
                                  Upper connection threshold.
          --lower-threshold <lower-threshold>
                                  Lower connection threshold.
          --tun-type <tun-type>   Tunnel type: ipip (default), gue or gre. (values:
                                  ipip, gue, gre)
          --tun-port <tun-port>   GUE destination port.
          --tun-checksum <tun-checksum>
                                  Tunnel checksum: none, checksum or remote. (values:
                                  none, checksum, remote)
          -h, --help              Show help information.


        """#,
        "server delete": #"""
        OVERVIEW: Delete a real server (ipvsadm -d).

        EXAMPLES:
          ipvsctl server delete tcp 10.96.0.10:80 10.244.1.5:8080

        USAGE: ipvsctl server delete <kind> <address> [--ipv6] <server>

        ARGUMENTS:
          <kind>                  Service kind. (values: tcp, udp, sctp, fwmark)
          <address>               HOST:PORT ([V6]:PORT) for tcp, udp and sctp; the mark
                                  for fwmark.
          <server>                Real server HOST[:PORT].

        OPTIONS:
          --ipv6                  IPv6 firewall-mark service.
          -h, --help              Show help information.


        """#,
        "zero": #"""
        OVERVIEW: Zero the counters of one service, or of all (ipvsadm -Z).

        EXAMPLES:
          ipvsctl zero
          ipvsctl zero tcp 10.96.0.10:80

        USAGE: ipvsctl zero [<kind>] [<address>]

        ARGUMENTS:
          <kind>                  Service kind. (values: tcp, udp, sctp, fwmark)
          <address>               Service address.

        OPTIONS:
          -h, --help              Show help information.


        """#,
        "flush": #"""
        OVERVIEW: Delete every virtual service (ipvsadm -C).

        EXAMPLES:
          ipvsctl flush

        USAGE: ipvsctl flush

        OPTIONS:
          -h, --help              Show help information.


        """#,
        "save": #"""
        OVERVIEW: Print the table as ipvsadm commands (ipvsadm -S -n).

        EXAMPLES:
          ipvsctl save > /etc/ipvs.rules
          ipvsctl save --names

        USAGE: ipvsctl save [--names]

        OPTIONS:
          --names                 Resolve names like ipvsadm -S without -n.
          -h, --help              Show help information.


        """#,
        "restore": #"""
        OVERVIEW: Add the rules of a file (ipvsadm -R); validates every line before
        applying any.

        EXAMPLES:
          ipvsctl restore /etc/ipvs.rules
          ipvsadm -S -n | ipvsctl restore -

        USAGE: ipvsctl restore [<file>]

        ARGUMENTS:
          <file>                  Rules file, or - for standard input. (default: -)

        OPTIONS:
          -h, --help              Show help information.


        """#,
        "diff": #"""
        OVERVIEW: Show what `ipvsctl apply FILE` would change; exit 0 when nothing, 1
        when something differs.

        One line per change, in ipvsadm syntax: + adds, ~ edits, - deletes.

        EXAMPLES:
          ipvsctl diff /etc/ipvs.rules
          ipvsctl save | ipvsctl diff -      # prints nothing, exits 0

        USAGE: ipvsctl diff <file>

        ARGUMENTS:
          <file>                  Rules file (ipvsadm -S format), or - for standard
                                  input.

        OPTIONS:
          -h, --help              Show help information.


        """#,
        "apply": #"""
        OVERVIEW: Make the kernel's table equal to a rules file: add, update and delete
        only what differs.

        Running it twice changes nothing the second time. Exit 255 when the kernel
        refused a change.

        EXAMPLES:
          ipvsctl apply /etc/ipvs.rules
          ipvsctl apply --verbose /etc/ipvs.rules

        USAGE: ipvsctl apply <file> [--verbose]

        ARGUMENTS:
          <file>                  Rules file (ipvsadm -S format), or - for standard
                                  input.

        OPTIONS:
          --verbose               Print the changes as they are made.
          -h, --help              Show help information.


        """#,
        "timeout": #"""
        OVERVIEW: Show or set connection timeouts (ipvsadm -L --timeout, --set).

        EXAMPLES:
          ipvsctl timeout get
          ipvsctl timeout set 900 120 300

        USAGE: ipvsctl timeout <subcommand>

        OPTIONS:
          -h, --help              Show help information.

        SUBCOMMANDS:
          get                     Show the TCP, TCP FIN and UDP timeouts (ipvsadm -L
                                  --timeout).
          set                     Set the TCP, TCP FIN and UDP timeouts in seconds; 0
                                  keeps a value (ipvsadm --set).

          See 'ipvsctl help timeout <subcommand>' for detailed help.

        """#,
        "timeout get": #"""
        OVERVIEW: Show the TCP, TCP FIN and UDP timeouts (ipvsadm -L --timeout).

        EXAMPLES:
          ipvsctl timeout get
          ipvsctl timeout get --output json

        USAGE: ipvsctl timeout get [--output <output>] [--json]

        OPTIONS:
          -o, -O, --output <output>
                                  Output format: text or json. (values: text, json;
                                  default: text)
          --json                  Same as --output json.
          -h, --help              Show help information.


        """#,
        "timeout set": #"""
        OVERVIEW: Set the TCP, TCP FIN and UDP timeouts in seconds; 0 keeps a value
        (ipvsadm --set).

        EXAMPLES:
          ipvsctl timeout set 900 120 300
          ipvsctl timeout set 0 0 60         # only UDP

        USAGE: ipvsctl timeout set <tcp> <tcpfin> <udp>

        ARGUMENTS:
          <tcp>                   TCP timeout.
          <tcpfin>                TCP FIN timeout.
          <udp>                   UDP timeout.

        OPTIONS:
          -h, --help              Show help information.


        """#,
        "daemon": #"""
        OVERVIEW: Start, stop or list connection sync daemons (ipvsadm --start-daemon,
        --stop-daemon).

        EXAMPLES:
          ipvsctl daemon start master --interface eth1 --syncid 7
          ipvsctl daemon list
          ipvsctl daemon stop master

        USAGE: ipvsctl daemon <subcommand>

        OPTIONS:
          -h, --help              Show help information.

        SUBCOMMANDS:
          start                   Start a sync daemon (ipvsadm --start-daemon).
          stop                    Stop a sync daemon (ipvsadm --stop-daemon).
          list                    List sync daemons (ipvsadm -L --daemon).

          See 'ipvsctl help daemon <subcommand>' for detailed help.

        """#,
        "daemon start": #"""
        OVERVIEW: Start a sync daemon (ipvsadm --start-daemon).

        The interface must exist in this network namespace and, for a master, be up.
        The kernel refuses a daemon while a service has a real server of the other
        address family.

        EXAMPLES:
          ipvsctl daemon start master --interface eth1 --syncid 7
          ipvsctl daemon start backup --interface eth1 --syncid 7
          ipvsctl daemon start master --interface eth1 --mcast-group 239.1.1.1 \
              --mcast-port 8849 --mcast-ttl 2

        USAGE: ipvsctl daemon start <state> [--interface <interface>] [--syncid <syncid>] [--sync-maxlen <sync-maxlen>] [--mcast-group <mcast-group>] [--mcast-port <mcast-port>] [--mcast-ttl <mcast-ttl>]

        ARGUMENTS:
          <state>                 master or backup. (values: master, backup)

        OPTIONS:
          --interface, --mcast-interface <interface>
                                  Multicast interface; default eth0.
          --syncid <syncid>       Sync ID, 0...255; default 0.
          --sync-maxlen <sync-maxlen>
                                  Largest sync message payload in bytes; default from
                                  the MTU.
          --mcast-group <mcast-group>
                                  Multicast group, IPv4 or IPv6; default 224.0.0.81.
          --mcast-port <mcast-port>
                                  Multicast UDP port; default 8848.
          --mcast-ttl <mcast-ttl> Multicast TTL, 1...255; default 1.
          -h, --help              Show help information.


        """#,
        "daemon stop": #"""
        OVERVIEW: Stop a sync daemon (ipvsadm --stop-daemon).

        EXAMPLES:
          ipvsctl daemon stop master

        USAGE: ipvsctl daemon stop <state>

        ARGUMENTS:
          <state>                 master or backup. (values: master, backup)

        OPTIONS:
          -h, --help              Show help information.


        """#,
        "daemon list": #"""
        OVERVIEW: List sync daemons (ipvsadm -L --daemon).

        EXAMPLES:
          ipvsctl daemon list
          ipvsctl daemon list --json

        USAGE: ipvsctl daemon list [--output <output>] [--json]

        OPTIONS:
          -o, -O, --output <output>
                                  Output format: text or json. (values: text, json;
                                  default: text)
          --json                  Same as --output json.
          -h, --help              Show help information.


        """#,
        "explain": #"""
        OVERVIEW: Walk the checklist of a Service that does not answer, from ipvsd's
        view and the kernel's.

        Asks ipvsd (through its admin socket) what it knows about one Service and
        judges it, one line a check, in the order one debugs: the Service is known; its
        cluster IP (or headless, which has no virtual server by design); its endpoints
        by condition ("no endpoints": the selector matches no running Pod); their
        health with the last probe error; each port in the kernel as desired (the
        difference shown); the VIP on the dummy interface; the sysctls and modules the
        data path needs; virtual servers of other tools in the way; the last sync
        errors that mention it; and whether connection counters move between two reads
        a second apart (send a request meanwhile to see them move).

        Each line is OK, WARN or FAIL, with the fix after "fix:". The exit status is 1
        when a check fails, 0 otherwise.

        EXAMPLES:
          ipvsctl explain production/backend-api
          ipvsctl explain 10.96.0.10:80
          ipvsctl explain production/backend-api -o json | jq '.checks[]'

        USAGE: ipvsctl explain <target> [--socket <socket>] [--output <output>] [--json]

        ARGUMENTS:
          <target>                NAMESPACE/NAME of a Service, or ADDRESS:PORT of one
                                  of its virtual servers.

        OPTIONS:
          --socket <socket>       The admin socket. (default: /run/ipvsd/admin.sock)
          -o, -O, --output <output>
                                  Output format: text or json. (values: text, json;
                                  default: text)
          --json                  Same as --output json.
          -h, --help              Show help information.


        """#,
    ]
}

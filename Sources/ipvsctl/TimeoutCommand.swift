import ArgumentParser
import IPVSAdmin

struct TimeoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeout",
        abstract: "Show or set connection timeouts (ipvsadm -L --timeout, --set).",
        discussion: """
            EXAMPLES:
              ipvsctl timeout get
              ipvsctl timeout set 900 120 300
            """,
        subcommands: [Get.self, Set.self]
    )

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the TCP, TCP FIN and UDP timeouts (ipvsadm -L --timeout).",
            discussion: """
                EXAMPLES:
                  ipvsctl timeout get
                  ipvsctl timeout get --output json
                """
        )
        @OptionGroup var output: OutputOptions
        func run() throws {
            guard output.isJSON else { runIpvsadm(["-L", "--timeout"]) }
            do {
                print(JSONOutput.timeouts(try openKernel().timeouts()), terminator: "")
            } catch {
                fail(error)
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set the TCP, TCP FIN and UDP timeouts in seconds; 0 keeps a value (ipvsadm --set).",
            discussion: """
                EXAMPLES:
                  ipvsctl timeout set 900 120 300
                  ipvsctl timeout set 0 0 60         # only UDP
                """
        )
        @Argument(help: "TCP timeout.") var tcp: String
        @Argument(help: "TCP FIN timeout.") var tcpfin: String
        @Argument(help: "UDP timeout.") var udp: String
        var ipvsadm: [String] { ["--set", "--", tcp, tcpfin, udp] }
        func validate() throws { try check(ipvsadm) }
        func run() throws { runIpvsadm(ipvsadm) }
    }
}

// ipvsctl: ipvsadm's syntax when the first argument is an option (or there is none), readable subcommands
// otherwise. Both end in the IPVSAdmin library, which does all the work.

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first.map({ $0.hasPrefix("-") && $0 != "--help" }) ?? true {
    runIpvsadm(arguments)
}
IPVSCtl.main(arguments)

import ArgumentParser

struct SaveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save",
        abstract: "Print the table as ipvsadm commands (ipvsadm -S -n).",
        discussion: """
            EXAMPLES:
              ipvsctl save > /etc/ipvs.rules
              ipvsctl save --names
            """
    )
    @Flag(help: "Resolve names like ipvsadm -S without -n.") var names = false
    func run() throws { runIpvsadm(names ? ["-S"] : ["-S", "-n"]) }
}

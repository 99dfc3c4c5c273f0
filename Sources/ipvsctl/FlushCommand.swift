import ArgumentParser

struct FlushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flush",
        abstract: "Delete every virtual service (ipvsadm -C).",
        discussion: """
            EXAMPLES:
              ipvsctl flush
            """
    )
    func run() throws { runIpvsadm(["-C"]) }
}

import ArgumentParser

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Add the rules of a file (ipvsadm -R); validates every line before applying any.",
        discussion: """
            EXAMPLES:
              ipvsctl restore /etc/ipvs.rules
              ipvsadm -S -n | ipvsctl restore -
            """
    )
    @Argument(help: "Rules file, or - for standard input.") var file: String = "-"
    func run() throws {
        do {
            let text = try readFile(file)
            finish(makeAdmin().run(["-R"], stdin: { text }))
        } catch {
            fail(error)
        }
    }
}

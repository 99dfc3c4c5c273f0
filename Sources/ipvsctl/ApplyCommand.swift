import ArgumentParser
import IPVSAdmin

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the kernel's table equal to a rules file: add, update and delete only what differs.",
        discussion: """
            Running it twice changes nothing the second time. Exit 255 when the kernel refused a change.

            EXAMPLES:
              ipvsctl apply /etc/ipvs.rules
              ipvsctl apply --verbose /etc/ipvs.rules
            """
    )
    @Argument(help: "Rules file (ipvsadm -S format), or - for standard input.") var file: String
    @Flag(help: "Print the changes as they are made.") var verbose = false
    func run() throws {
        let (kernel, operations) = plan(file)
        let result = kernel.apply(operations, progress: terminalProgress)
        var output = AdminOutput(stdout: verbose ? PlanText.render(operations) : "")
        for failure in result.failures {
            output.stderr +=
                "\(failure.operation): \(KernelErrorText.message(failure.error, operation: failure.operation))\n"
        }
        output.status = result.failures.isEmpty ? 0 : 255
        finish(output)
    }
}

import ArgumentParser
import IPVS
import IPVSAdmin

/// Plans `apply FILE`: the file's table against the kernel's. Exits on any failure.
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
        fail(error)
    } catch let error as RestoreFailure {
        fail(AdminError(error.description, status: 2))
    } catch let error as IPVSError {
        fail(error)
    } catch {
        fail(AdminError("\(error)", status: 1))
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what `ipvsctl apply FILE` would change; exit 0 when nothing, 1 when something differs.",
        discussion: """
            One line per change, in ipvsadm syntax: + adds, ~ edits, - deletes.

            EXAMPLES:
              ipvsctl diff /etc/ipvs.rules
              ipvsctl save | ipvsctl diff -      # prints nothing, exits 0
            """
    )
    @Argument(help: "Rules file (ipvsadm -S format), or - for standard input.") var file: String
    func run() throws {
        let (_, operations) = plan(file)
        finish(AdminOutput(stdout: PlanText.render(operations), status: operations.isEmpty ? 0 : 1))
    }
}

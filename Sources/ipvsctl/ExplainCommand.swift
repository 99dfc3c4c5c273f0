import AgentAPI
import ArgumentParser
import IPVSAdmin

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Walk the checklist of a Service that does not answer, from ipvsd's view and the kernel's.",
        discussion: """
            Asks ipvsd (through its admin socket) what it knows about one Service and judges it, one \
            line a check, in the order one debugs: the Service is known; its cluster IP (or headless, \
            which has no virtual server by design); its endpoints by condition ("no endpoints": the \
            selector matches no running Pod); their health with the last probe error; each port in the \
            kernel as desired (the difference shown); the VIP on the dummy interface; the sysctls and \
            modules the data path needs; virtual servers of other tools in the way; the last sync errors \
            that mention it; and whether connection counters move between two reads a second apart \
            (send a request meanwhile to see them move).

            Each line is OK, WARN or FAIL, with the fix after "fix:". The exit status is 1 when a check \
            fails, 0 otherwise.

            EXAMPLES:
              ipvsctl explain production/backend-api
              ipvsctl explain 10.96.0.10:80
              ipvsctl explain production/backend-api -o json | jq '.checks[]'
            """
    )

    @Argument(help: "NAMESPACE/NAME of a Service, or ADDRESS:PORT of one of its virtual servers.")
    var target: String
    @Option(name: .long, help: "The admin socket.") var socket: String = AdminPath.defaultSocket
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let problem = ExplainTarget.problem(target) { throw ValidationError(problem) }
    }

    func run() throws {
        let query = target.map { $0 == "[" ? "%5B" : $0 == "]" ? "%5D" : String($0) }.joined()
        let facts: ExplainFacts
        do {
            facts = try AdminSocketClient(path: socket).get(ExplainFacts.self, "\(AdminPath.explain)?target=\(query)")
        } catch {
            fail(error)
        }
        let report = ExplainReport(facts: facts)
        let status: Int32 = report.failed ? 1 : 0
        if output.isJSON {
            finish(AdminOutput(stdout: report.json, status: status))
        }
        finish(AdminOutput(stdout: AgentText.explain(report), status: status))
    }
}

import AgentAPI
import ArgumentParser
import IPVSAdmin

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Show the ipvsd agent's view through its admin socket.",
        discussion: """
            ipvsd keeps its own model of what it programmed; these commands show it, next to what \
            the manifests want. The socket is root-only.

            EXAMPLES:
              ipvsctl agent status
              ipvsctl agent status -o json  # the admin API's payload (also --output json, --json)
              ipvsctl agent services
              ipvsctl agent health
              ipvsctl agent sync            # reload the manifests and resync now
            """,
        subcommands: [StatusCommand.self, ServicesCommand.self, HealthCommand.self, SyncCommand.self]
    )
}

struct AgentOptions: ParsableArguments {
    @Option(name: .long, help: "The admin socket.") var socket: String = AdminPath.defaultSocket
    @OptionGroup var output: OutputOptions

    func show<T: Decodable>(_ type: T.Type, _ path: String, _ render: (T) -> String) -> Never {
        let client = AdminSocketClient(path: socket)
        do {
            // JSON is the admin API's payload as it came, so scripts see every field the agent sends.
            if output.isJSON {
                finish(AdminOutput(stdout: String(decoding: try client.request("GET", path), as: UTF8.self) + "\n"))
            }
            finish(AdminOutput(stdout: render(try client.get(T.self, path))))
        } catch {
            fail(error)
        }
    }
}

extension AgentCommand {
    struct StatusCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: """
                Readiness, counts, the last syncs, the sync and manifest load running now, conflicts and manifest \
                errors.
                """,
            discussion: """
                Answers at once even during a long sync (a first sync at cluster scale): a line `syncing now: \
                full, applying changes for 12s, started 40s ago` names the step it is at. A manifest load's \
                result is logged only at its end; while it runs, a line `loading manifests now: incremental, \
                started 9s ago, file 2 of 4 for 8s: /etc/ipvsd/manifests/big.yaml (60.0 MiB)` names the file \
                it is reading.
                """
        )
        @OptionGroup var options: AgentOptions
        func run() throws { options.show(AgentStatus.self, AdminPath.status, AgentText.status) }
    }

    struct ServicesCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "services",
            abstract: "Each virtual server, desired against programmed, with each real server's state."
        )
        @OptionGroup var options: AgentOptions
        func run() throws { options.show([ServiceView].self, AdminPath.services, AgentText.services) }
    }

    struct HealthCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "health",
            abstract: "Each health-checked backend: state, last result, since when, consecutive count."
        )
        @OptionGroup var options: AgentOptions
        func run() throws { options.show([HealthView].self, AdminPath.health, AgentText.health) }
    }

    struct SyncCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync",
            abstract: "Reload the manifests and do a full resync now."
        )
        @Option(name: .long, help: "The admin socket.") var socket: String = AdminPath.defaultSocket
        @Flag(name: .long, help: "Only resync with the kernel (repair drift); do not re-read the manifests.")
        var noReload = false
        func run() throws {
            do {
                _ = try AdminSocketClient(path: socket).request("POST", noReload ? AdminPath.resync : AdminPath.sync)
            } catch {
                fail(error)
            }
            finish(AdminOutput(stdout: "sync requested\n"))
        }
    }
}

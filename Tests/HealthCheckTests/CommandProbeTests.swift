import HealthCheck
import NIOPosix
import ServiceTables
import Testing

@Suite("Command probes")
struct CommandProbeTests {
    let prober = NIOProber(group: MultiThreadedEventLoopGroup.singleton)

    @Test func trueIsHealthy() async {
        let result = await prober.probe(target(.command(argv: ["/bin/true"]), "127.0.0.1", 80))
        #expect(result.success)
        #expect(result.reason == "ok")
    }

    @Test func falseFailsWithItsStatus() async {
        let result = await prober.probe(target(.command(argv: ["/bin/false"]), "127.0.0.1", 80))
        #expect(!result.success)
        #expect(result.reason == "exit status 1")
    }

    @Test func targetIsInTheEnvironment() async {
        let argv = ["/bin/sh", "-c", #"test "$IPVS_CHECK_PORT" = 8080 && test "$IPVS_CHECK_ADDRESS" = ::1"#]
        let matching = await prober.probe(target(.command(argv: argv), "::1", 8080))
        let other = await prober.probe(target(.command(argv: argv), "::1", 8081))
        #expect(matching.reason == "ok")
        #expect(other.reason == "exit status 1")
    }

    @Test func argumentsAreNotInterpretedByAShell() async {
        // With a shell around argv, `;` would end the test and `exit 0` would run.
        let result = await prober.probe(
            target(.command(argv: ["/bin/test", "a", "=", "b;", "exit", "0"]), "127.0.0.1", 1)
        )
        #expect(!result.success)
    }

    @Test func slowCommandIsKilledAtTheTimeout() async {
        let slow = target(.command(argv: ["/bin/sleep", "30"]), "127.0.0.1", 80, timeout: .milliseconds(200))
        let result = await prober.probe(slow)
        #expect(result.reason == "timeout")
        #expect(result.latency < .seconds(30))
    }

    @Test func missingExecutableIsNamed() async {
        let result = await prober.probe(target(.command(argv: ["/nonexistent/check"]), "127.0.0.1", 80))
        #expect(!result.success)
        #expect(result.reason.contains("/nonexistent/check"))
    }
}

import Agent
import Foundation
import KubernetesManifests
import Testing

/// The `dns:` section, and what it reserves.
@Suite struct DNSConfigurationTests {
    static func errors(_ text: String) -> [String] {
        do {
            _ = try AgentConfiguration.parse(text, file: "config.yaml")
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    @Test func absentMeansNoDNS() throws {
        #expect(try AgentConfiguration.parse("interface: ipvs0\n", file: "c").dns == nil)
    }

    @Test func listenAndDomain() throws {
        let config = try AgentConfiguration.parse(
            "dns: {listen: 10.96.0.10:53, domain: example.internal.}\n",
            file: "c"
        )
        #expect(config.dns?.listen.description == "10.96.0.10:53")
        #expect(config.dns?.domain == "example.internal")
        let defaulted = try AgentConfiguration.parse("dns: {listen: '[fd00::a]:5353'}\n", file: "c")
        #expect(defaulted.dns?.domain == "cluster.local")
    }

    @Test(arguments: [
        ("dns: {domain: cluster.local}\n", "dns.listen is required"),
        ("dns: {listen: localhost:53}\n", "must be IP:PORT"),
        ("dns: {listen: 10.0.0.1:53, domain: 'a..b'}\n", "must be a domain name"),
        ("dns: {listen: 10.0.0.1:53, domain: 'clu_ster.local'}\n", "letters, digits, hyphens"),
        ("dns: {listen: 10.0.0.1:53, domain: .}\n", "must not be the root"),
        ("dns: {listen: 10.0.0.1:53, ttl: 5}\n", "ttl"),
        ("dns: {listen: 10.0.0.1:53, domain: \(String(repeating: "a.", count: 61))b}\n", "leave room"),
    ])
    func badValuesNameTheKey(text: String, expected: String) {
        let errors = Self.errors(text)
        #expect(errors.count == 1 && errors[0].contains(expected), "\(errors)")
        #expect(errors.first?.hasPrefix("config.yaml:1") == true, "\(errors)")
    }

    /// A Service port on the DNS listener's address and port would take its packets (UDP or TCP) before the
    /// responder sees them: refused with the Service named.
    @Test func virtualServerOnTheDNSListenerIsRefused() async throws {
        let sandbox = try AgentSandbox()
        sandbox.configuration.dns = DNSSettings(listen: try ListenAddress(parsing: "10.96.100.50:9090"))
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        let errors = agent.status().manifestErrors
        #expect(errors.count == 1 && errors[0].contains("DNS listener (dns.listen 10.96.100.50:9090)"), "\(errors)")
        #expect(sandbox.kernel.entries.isEmpty)
    }
}

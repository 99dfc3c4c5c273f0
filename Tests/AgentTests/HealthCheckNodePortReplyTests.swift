import Testing

@testable import Agent
@testable import ServiceTables

/// The healthCheckNodePort answer, field for field as kube-proxy's service health server writes it.
@Suite struct HealthCheckNodePortReplyTests {
    @Test func okWithLocalEndpointsAndAHealthyAgentElse503() {
        let entry = HealthCheckNodePort(namespace: "shop", name: "web", localEndpoints: 2)
        let ok = HealthCheckNodePorts.reply(entry, healthy: true)
        #expect(ok.ok)
        #expect(
            ok.body == #"{"service":{"namespace":"shop","name":"web"},"localEndpoints":2,"serviceProxyHealthy":true}"#
        )
        #expect(!HealthCheckNodePorts.reply(entry, healthy: false).ok)
        let none = HealthCheckNodePorts.reply(.init(namespace: "shop", name: "web", localEndpoints: 0), healthy: true)
        #expect(!none.ok && none.body.contains(#""localEndpoints":0"#))
    }

    @Test func namesAreEscapedWhateverTheyHold() {
        let entry = HealthCheckNodePort(namespace: "a\"b", name: "c\\d\u{1}", localEndpoints: 1)
        #expect(
            HealthCheckNodePorts.reply(entry, healthy: true).body.hasPrefix(
                #"{"service":{"namespace":"a\"b","name":"c\\d\u0001"}"#
            )
        )
    }
}

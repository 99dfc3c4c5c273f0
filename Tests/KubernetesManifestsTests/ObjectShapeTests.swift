import KubernetesManifests
import Testing

/// Inputs accepted silently before: names that collide through `/`, slices that name no Service, entries
/// of the wrong shape.
@Suite struct ObjectShapeTests {
    @Test func namesWithSlashesCannotCollide() {
        let text = """
            apiVersion: v1
            kind: Service
            metadata: {namespace: a/b, name: c}
            spec: {ports: [{port: 80}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {namespace: a, name: b/c}
            spec: {ports: [{port: 80}]}

            """
        let errors = parseErrors(text)
        #expect(errors.count == 2)
        #expect(errors[0].hasPrefix("test.yaml:3: metadata.namespace: must be a lowercase RFC 1123 label"))
        #expect(errors[1].hasPrefix("test.yaml:8: metadata.name: must be a lowercase RFC 1035 label"))
    }

    @Test(arguments: [
        ("Service", "web-1", true), ("Service", "1web", false), ("Service", "Web", false),
        ("Service", "web.v1", false), ("Service", String(repeating: "a", count: 64), false),
        ("EndpointSlice", "web-1.abc", true), ("EndpointSlice", "1web", true), ("EndpointSlice", "web/1", false),
        ("EndpointSlice", "web..1", false), ("Endpoints", "web.v1", true), ("Endpoints", "web_1", false),
    ])
    func namesFollowKubernetesRules(kind: String, name: String, valid: Bool) {
        let body =
            switch kind {
            case "Service": "apiVersion: v1\nkind: Service\nmetadata: {name: \"\(name)\"}\nspec: {}\n"
            case "EndpointSlice":
                "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: \"\(name)\", "
                    + "labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\n"
            default: "apiVersion: v1\nkind: Endpoints\nmetadata: {name: \"\(name)\"}\n"
            }
        let errors = parseErrors(body)
        #expect(errors.isEmpty == valid, "\(errors)")
        if !valid { #expect(errors.first?.contains("metadata.name: must be a lowercase RFC") == true) }
    }

    @Test func namespaceMustBeALabel() {
        let errors = parseErrors("apiVersion: v1\nkind: Endpoints\nmetadata: {name: web, namespace: Prod}\n")
        #expect(errors.first?.hasPrefix("test.yaml:3: metadata.namespace: must be a lowercase RFC 1123 label") == true)
    }

    @Test func sliceWithoutServiceNameLabelIsANote() throws {
        let text = """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: orphan}
            addressType: IPv4
            endpoints: [{addresses: [10.0.0.1]}]

            """
        let set = try ManifestLoader.parse(text, file: "test.yaml")
        #expect(set.endpointSlices.isEmpty)
        #expect(set.notes == ["test.yaml:1: EndpointSlice default/orphan skipped: no kubernetes.io/service-name label"])
    }

    @Test func nonMappingEntriesAreErrors() {
        let slice = """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            ports: [80]
            endpoints: [{addresses: [10.0.0.1], conditions: "false"}]

            """
        #expect(
            parseErrors(slice) == [
                "test.yaml:5: ports[0]: must be a mapping, got 80",
                "test.yaml:6: endpoints[0].conditions: must be a mapping, got \"false\"",
            ]
        )
        let endpoints = """
            apiVersion: v1
            kind: Endpoints
            metadata: {name: web}
            subsets: [{addresses: [{ip: 10.0.0.1}], ports: [8080]}]

            """
        #expect(parseErrors(endpoints) == ["test.yaml:4: subsets[0].ports[0]: must be a mapping, got 8080"])
        let service = """
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec: {type: LoadBalancer, ports: [{port: 80}]}
            status: {loadBalancer: {ingress: [192.0.2.1]}}

            """
        #expect(
            parseErrors(service) == [
                "test.yaml:5: status.loadBalancer.ingress[0]: must be a mapping, got \"192.0.2.1\""
            ]
        )
    }

    @Test func addressWithEmbeddedNULIsRefused() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: \"10.0.0.1\\0x\"}\n"
        #expect(parseErrors(text).first?.contains("spec.clusterIP: must be an IP address") == true)
    }
}

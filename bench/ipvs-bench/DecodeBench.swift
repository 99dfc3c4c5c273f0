import Foundation
import IPVSAdmin
import KubernetesManifests
import KubernetesWire
import NIOCore
@_spi(Benchmarks) import YAMLSyntax

/// Decoding speed of manifests and API list pages, each as a ratio to libyaml's event scan of the same bytes
/// (the floor of any parser built on libyaml) in the same repetition: what `ipvsd` spends from exec to ready
/// before it programs anything. API pages (JSON, read by `JSONComposer` rather than libyaml) are also timed
/// against Foundation's JSONSerialization of the same bytes, the stock alternative, which builds untyped
/// objects and checks no field. A restore file (`ipvsctl -R`) is timed read by the general ipvsadm parser
/// and by the direct reader of saved rules, in the same repetition.
enum DecodeBench {
    static func run(services: Int, servers: Int, runs: Int, into results: inout BenchRun) throws {
        try restoreFile(services: services, servers: servers, runs: runs, into: &results)
        let manifests = clusterManifests(
            services: services,
            servers: servers,
            serviceAddress: { "10.\(96 + $0 / 65536).\($0 / 256 % 256).\($0 % 256)" },
            backendAddress: { "10.\(128 + $0 / 256 % 128).\($0 % 256).\($1 + 1)" }
        )
        try figure(
            "decode \(services)x\(servers) manifests (\(manifests.utf8.count / 1_000_000) MB)",
            text: manifests,
            runs: runs,
            into: &results
        ) {
            let set = try ManifestLoader.parse(manifests, file: "bench.yaml")
            guard set.services.count == services, set.endpointSlices.count == services else {
                throw BenchError("decoded \(set.services.count) Services, \(set.endpointSlices.count) slices")
            }
        }
        for resource in APIResource.allCases {
            let page = APIPage.text(resource, items: 500, servers: servers)
            let bytes = Data(page.utf8)
            try figure(
                "decode an API list page of 500 \(resource)",
                text: page,
                runs: runs,
                into: &results,
                peer: (
                    "Foundation JSONSerialization of the same bytes (untyped objects)",
                    {
                        _ = try JSONSerialization.jsonObject(with: bytes)
                    }
                )
            ) {
                let decoded = try APIPayloads.page(ByteBuffer(string: page), resource: resource, claiming: nil)
                let good = decoded.objects.filter { (try? $0.value.get()) != nil }.count
                guard good == 500, decoded.unkeyed.isEmpty else {
                    throw BenchError("\(resource) page: \(good) of 500 objects decoded")
                }
            }
        }
    }

    /// What `ipvsctl -R` does before the kernel: every line of an `ipvsadm -S -n` file parsed and validated.
    private static func restoreFile(services: Int, servers: Int, runs: Int, into results: inout BenchRun) throws {
        let rules = Workload(services: services, servers: servers).ipvsadmRules
        let lineCount = services * (servers + 1)
        let group = "parse an ipvsadm -S file of \(services)x\(servers) (\(lineCount) lines)"
        let parser = IpvsadmParser(resolver: NumericResolver())
        var general: [Double] = []
        var direct: [Double] = []
        for run in 1...runs {
            log("\(group): run \(run)/\(runs)")
            for readingSavedRules in [false, true] {
                var count = 0
                let time = try measure {
                    count = try RestoreParser.parse(rules, parser: parser, readingSavedRules: readingSavedRules).count
                }
                guard count == lineCount else { throw BenchError("\(group): \(count) lines parsed") }
                if readingSavedRules { direct.append(time.milliseconds) } else { general.append(time.milliseconds) }
            }
        }
        results.add(group, "general ipvsadm parser, every line", "ms", general)
        results.add(group, "direct reader of saved rules (SavedRuleLine)", "ms", direct)
        results.add(group, "general / direct (same run)", "x", IPVSBenchStats.ratios(general, direct))
    }

    private static func figure(
        _ group: String,
        text: String,
        runs: Int,
        into results: inout BenchRun,
        peer: (name: String, run: () throws -> Void)? = nil,
        decode: () throws -> Void
    ) throws {
        var scans: [Double] = []
        var decodes: [Double] = []
        var peers: [Double] = []
        for run in 1...runs {
            log("\(group): run \(run)/\(runs)")
            var events: Int?
            scans.append(measure { events = YAMLEventScan.count(text) }.milliseconds)
            guard events != nil else { throw BenchError("\(group): libyaml refused the text") }
            if let peer { peers.append(try measure(peer.run).milliseconds) }
            decodes.append(try measure(decode).milliseconds)
        }
        results.add(group, "libyaml event scan of the same bytes (floor)", "ms", scans)
        results.add(group, "decode", "ms", decodes)
        results.add(group, "decode / event scan (same run)", "x", IPVSBenchStats.ratios(decodes, scans))
        if let peer {
            results.add(group, peer.name, "ms", peers)
            results.add(group, "decode / JSONSerialization (same run)", "x", IPVSBenchStats.ratios(decodes, peers))
        }
    }
}

/// A list page as the API server sends it: JSON, items without kind and apiVersion, the fields a real
/// cluster fills in (uid, timestamps, owner references, conditions).
enum APIPage {
    static func text(_ resource: APIResource, items: Int, servers: Int) -> String {
        let kind = resource == .services ? "ServiceList" : "EndpointSliceList"
        let apiVersion = resource == .services ? "v1" : "discovery.k8s.io/v1"
        let objects = (0..<items).map { resource == .services ? service($0) : slice($0, servers: servers) }
        return """
            {"kind":"\(kind)","apiVersion":"\(apiVersion)","metadata":{"resourceVersion":"123456"},\
            "items":[\(objects.joined(separator: ","))]}
            """
    }

    private static func metadata(_ name: String, _ index: Int, labels: String) -> String {
        """
        "metadata":{"name":"\(name)","namespace":"bench","uid":"6f1c2a4e-0000-4000-8000-\(String(format: "%012d", index))",\
        "resourceVersion":"\(1000 + index)","creationTimestamp":"2026-01-01T00:00:00Z","labels":{\(labels)}}
        """
    }

    private static func service(_ index: Int) -> String {
        let address = "10.96.\(index / 256).\(index % 256)"
        return """
            {\(metadata("s\(index)", index, labels: "\"app\":\"s\(index)\"")),\
            "spec":{"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080}],\
            "selector":{"app":"s\(index)"},"clusterIP":"\(address)","clusterIPs":["\(address)"],\
            "type":"ClusterIP","sessionAffinity":"None","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack",\
            "internalTrafficPolicy":"Cluster"},"status":{"loadBalancer":{}}}
            """
    }

    private static func slice(_ index: Int, servers: Int) -> String {
        let endpoints = (0..<servers).map { server in
            """
            {"addresses":["10.\(128 + index / 256 % 128).\(index % 256).\(server + 1)"],\
            "conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"node-\(server)",\
            "targetRef":{"kind":"Pod","namespace":"bench","name":"s\(index)-\(server)",\
            "uid":"7a2b3c4d-0000-4000-8000-\(String(format: "%012d", index * 100 + server))"},"zone":"zone-a"}
            """
        }
        let labels = """
            "kubernetes.io/service-name":"s\(index)","endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io"
            """
        return """
            {\(metadata("s\(index)-abcde", index, labels: labels)),"addressType":"IPv4",\
            "endpoints":[\(endpoints.joined(separator: ","))],\
            "ports":[{"name":"http","port":8080,"protocol":"TCP"}]}
            """
    }
}

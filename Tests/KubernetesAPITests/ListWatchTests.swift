import Foundation
import IPVS
import KubernetesStandIn
import KubernetesWire
import ServiceTables
import Testing

@testable import KubernetesAPI

/// `KubernetesSource` against the stand-in API server: lists, watches, resumes, relists, failures.
@Suite(.serialized) struct ListWatchTests {
    @Test func listFollowsContinueOverThreeShortPages() async throws {
        var limits = APILimits.fast
        limits.pageSize = 3
        let harness = try await SourceHarness.start(limits: limits) { server in
            // The server returns 2 of the 3 asked for: only `continue` says more remain.
            server.setMaxPageItems(2)
            for index in 1...5 {
                server.apply(.services, StandInObjects.service("s\(index)", clusterIP: "10.96.0.\(index)"))
            }
        }
        try await harness.wait("both resources listed") { await harness.recorder.initialDeliveries == 1 }
        let lists = harness.lists(.services)
        #expect(lists.count == 3)
        #expect(lists.allSatisfy { $0.query["limit"] == "3" })
        #expect(lists.map { $0.query["continue"] == nil } == [true, false, false])
        #expect(
            lists.allSatisfy {
                $0.query["labelSelector"] == "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"
            }
        )
        #expect(await harness.recorder.desired.count == 5)
        try await harness.wait("the watches start from the lists' resourceVersion") {
            harness.watches(.services).count == 1 && harness.watches(.endpointSlices).count == 1
        }
        let watch = try #require(harness.watches(.services).first)
        #expect(watch.query["resourceVersion"] == harness.status(.services).resourceVersion)
        #expect(watch.query["allowWatchBookmarks"] == "true")
        #expect(watch.query["timeoutSeconds"] == "300")
        await harness.stop()
    }

    @Test func addModifyDeleteOfServicesAndSlices() async throws {
        let harness = try await SourceHarness.start()
        try await harness.wait("listed") { await harness.recorder.initialDeliveries == 1 }
        let vip = tcp("10.96.1.1", 80)
        harness.server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.1.1"))
        try await harness.wait("the Service is desired") { await harness.recorder.realServers(vip) == [] }
        harness.server.apply(
            .endpointSlices,
            StandInObjects.slice("web-a", service: "web", addresses: ["10.1.0.1"], port: 8080)
        )
        try await harness.wait("its endpoint is a real server") {
            await harness.recorder.realServers(vip) == ["10.1.0.1:8080"]
        }
        harness.server.apply(
            .endpointSlices,
            StandInObjects.slice("web-a", service: "web", addresses: ["10.1.0.1", "10.1.0.2"], port: 8080)
        )
        try await harness.wait("the modified slice adds one") {
            await harness.recorder.realServers(vip) == ["10.1.0.1:8080", "10.1.0.2:8080"]
        }
        // The delta names only the Service the event touched.
        #expect(await harness.recorder.lastDelta.keys.sorted() == [vip])
        harness.server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.1.1", ports: [80, 443]))
        try await harness.wait("a second port") { await harness.recorder.desired[tcp("10.96.1.1", 443)] != nil }
        harness.server.delete(.endpointSlices, namespace: "default", name: "web-a")
        try await harness.wait("the slice's endpoints leave") {
            await harness.recorder.realServers(tcp("10.96.1.1", 443)) == []
        }
        harness.server.delete(.services, namespace: "default", name: "web")
        try await harness.wait("the Service leaves") { await harness.recorder.desired.isEmpty }
        #expect(harness.lists(.services).count == 1)
        await harness.stop()
    }

    @Test func aServiceWithThreeSlicesHasAllTheirEndpoints() async throws {
        let harness = try await SourceHarness.start { server in
            server.apply(.services, StandInObjects.service("api", clusterIP: "10.96.2.2"))
            for (index, address) in ["10.2.0.1", "10.2.0.2", "10.2.0.3"].enumerated() {
                server.apply(
                    .endpointSlices,
                    StandInObjects.slice(
                        "api-\(index)",
                        service: "api",
                        addresses: [address],
                        notReady: index == 2 ? [address] : [],
                        port: 9000
                    )
                )
            }
        }
        try await harness.wait("listed") { await harness.recorder.initialDeliveries == 1 }
        let service = try #require(await harness.recorder.desired[tcp("10.96.2.2", 80)])
        #expect(
            service.realServers.keys.map(\.description).sorted() == ["10.2.0.1:9000", "10.2.0.2:9000", "10.2.0.3:9000"]
        )
        #expect(service.realServers.values.filter { !$0.conditions.ready }.map(\.id.description) == ["10.2.0.3:9000"])
        await harness.stop()
    }

    @Test func aConnectionCutMidEventResumesFromTheLastVersionWithoutAList() async throws {
        let harness = try await SourceHarness.start { server in
            server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.3.3"))
        }
        try await harness.wait("watching") { harness.server.openWatches == 2 }
        harness.server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.3.3", ports: [80, 81]))
        try await harness.wait("the change arrived") { await harness.recorder.desired.count == 2 }
        let seen = harness.status(.services).resourceVersion
        harness.server.dropWatches(midEvent: true)
        try await harness.wait("the watches are open again") {
            harness.watches(.services).count == 2 && harness.server.openWatches == 2
        }
        #expect(harness.watches(.services).last?.query["resourceVersion"] == seen)
        harness.server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.3.3", ports: [80, 81, 82]))
        try await harness.wait("later changes arrive") { await harness.recorder.desired.count == 3 }
        #expect(harness.lists(.services).count == 1)
        #expect(harness.lists(.endpointSlices).count == 1)
        #expect(harness.status(.services).watchRestarts >= 1)
        #expect(harness.status(.services).relists == 0)
        await harness.stop()
    }

    @Test func aBookmarkMovesTheResumePoint() async throws {
        let harness = try await SourceHarness.start()
        try await harness.wait("watching") { harness.server.openWatches == 2 }
        // Slices change; the Services watch sees nothing of it until a bookmark says how far it reached.
        harness.server.apply(
            .endpointSlices,
            StandInObjects.slice("x-1", service: "x", addresses: ["10.3.0.1"], port: 80)
        )
        let reached = harness.server.resourceVersion
        #expect(harness.status(.services).resourceVersion != reached)
        harness.server.bookmark()
        try await harness.wait("the bookmark is seen") { harness.status(.services).resourceVersion == reached }
        harness.server.dropWatches()
        try await harness.wait("the watch resumed") { harness.watches(.services).count == 2 }
        #expect(harness.watches(.services).last?.query["resourceVersion"] == reached)
        #expect(harness.lists(.services).count == 1)
        await harness.stop()
    }

    @Test(arguments: [false, true])
    func goneRelistsAndChangesNothingThatDidNotChange(asHTTPStatus: Bool) async throws {
        let harness = try await SourceHarness.start { server in
            server.setGoneAsHTTPStatus(asHTTPStatus)
            server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.4.4"))
            server.apply(
                .endpointSlices,
                StandInObjects.slice("web-1", service: "web", addresses: ["10.4.0.1"], port: 80)
            )
        }
        try await harness.wait("watching") { harness.server.openWatches == 2 }
        let before = await harness.recorder.desired
        let deliveries = await harness.recorder.deliveries
        harness.server.compact()
        harness.server.dropWatches()
        try await harness.wait("both relisted") {
            harness.status(.services).relists == 1 && harness.status(.endpointSlices).relists == 1
                && harness.server.openWatches == 2
        }
        #expect(harness.lists(.services).count == 2)
        #expect(await harness.recorder.desired == before)
        // Nothing changed, so nothing was delivered.
        #expect(await harness.recorder.deliveries == deliveries)
        #expect(harness.status(.services).lastError == nil || harness.status(.services).state == .watching)
        await harness.stop()
    }

    @Test func serverErrorsAndThrottlingAreRetried() async throws {
        let harness = try await SourceHarness.start { server in
            server.failNext([
                .init(status: 500, watch: false), .init(status: 429, retryAfter: 1, watch: false),
                .init(status: 503, watch: true),
            ])
            server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.5.5"))
        }
        try await harness.wait("listed despite the failures") { await harness.recorder.initialDeliveries == 1 }
        try await harness.wait("watching") { harness.server.openWatches == 2 }
        let errors = harness.status(.services).apiErrors + harness.status(.endpointSlices).apiErrors
        #expect(errors == 3)
        #expect(await harness.recorder.desired.count == 1)
        await harness.stop()
    }

    @Test func aRotatedTokenFileIsUsedOnTheNextRequest() async throws {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        let tokenFile = server.pki.directory + "/token-\(server.port)"
        try "first-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        server.requireToken("first-token")
        let harness = try SourceHarness(
            server: server,
            connection: try KubeConfig.load(path: try server.writeKubeconfig(tokenFile: tokenFile)),
            limits: .fast
        )
        try await harness.wait("watching with the first token") { server.openWatches == 2 }
        server.requireToken("second-token")
        try "second-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        server.dropWatches()
        server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.6.6"))
        try await harness.wait("the change arrives with the new token") { await harness.recorder.desired.count == 1 }
        #expect(harness.lists(.services).count == 1)
        await harness.stop()
    }

    @Test func aWrongCAAndA403NameTheirCause() async throws {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        let wrong = try KubeConfig.load(
            path: try server.writeKubeconfig(name: "wrong", ca: server.pki.wrongCACertificate)
        )
        let client = try APIClient(connection: wrong, limits: .fast)
        do {
            _ = try await client.listPage(.services, selector: "", continueToken: nil)
            Issue.record("a server signed by another CA was trusted")
        } catch {
            #expect(error.code == .tls)
            #expect(error.message.contains("certificate-authority of kubeconfig"), "\(error.message)")
        }
        await client.shutdown()

        server.forbid(.endpointSlices)
        let right = try APIClient(connection: try KubeConfig.load(path: try server.writeKubeconfig()), limits: .fast)
        do {
            _ = try await right.listPage(.endpointSlices, selector: "", continueToken: nil)
            Issue.record("a 403 was taken for a list")
        } catch {
            #expect(error.code == .forbidden)
            #expect(error.message.contains("403"))
            #expect(error.message.contains("cannot list resource \"endpointslices\""), "\(error.message)")
            #expect(error.message.contains("needs list and watch on endpointslices"), "\(error.message)")
        }
        await right.shutdown()
        await server.shutdown()
    }

    @Test func malformedAndOversizedEventsKeepTheLastGoodState() async throws {
        var limits = APILimits.fast
        limits.maxEventLineBytes = 4096
        let harness = try await SourceHarness.start(limits: limits) { server in
            server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.7.7"))
        }
        try await harness.wait("watching") { harness.server.openWatches == 2 }
        let good = await harness.recorder.desired
        harness.server.injectLine(.services, #"{"type":"MODIFIED","object":{"metadata":"#)
        harness.server.injectLine(.services, "not json at all")
        // A Service whose port is out of range: rejected, the held one stays.
        harness.server.apply(
            .services,
            StandInObjects.service("web", clusterIP: "10.96.7.7").replacingOccurrences(
                of: #""port":80"#,
                with: #""port":0"#
            )
        )
        // Over the line budget: dropped unread.
        harness.server.apply(
            .services,
            StandInObjects.service(
                "web",
                clusterIP: "10.96.7.7",
                annotations: ["big": String(repeating: "x", count: 5000)]
            )
        )
        try await harness.wait("four rejections") { harness.status(.services).rejectedObjects == 4 }
        #expect(await harness.recorder.desired == good)
        // The stream goes on: a valid change still arrives.
        harness.server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.7.7", ports: [80, 90]))
        try await harness.wait("a valid change after them") { await harness.recorder.desired.count == 2 }
        #expect(harness.lists(.services).count == 1)
        await harness.stop()
    }
}

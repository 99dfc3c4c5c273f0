import Foundation
import TestSupport

/// The manifests the README's demo runs, read from deploy/examples/manifests so the tests check what ships.
enum ExampleManifests {
    static let services = shipped("deploy/examples/manifests/services.yaml")
    static let endpointSlices = shipped("deploy/examples/manifests/endpointslices.yaml")

    /// `endpointSlices` without the production endpoint 10.244.1.12 (its pod went away).
    static var endpointSlicesWithoutSecondProductionPod: String {
        endpointSlices.replacingOccurrences(
            of: """
                - addresses: [10.244.1.12]
                  conditions: {ready: true}
                  targetRef: {kind: Pod, namespace: production, name: backend-api-7d9f-b}

                """,
            with: ""
        )
    }

    /// A Service the examples do not have, `other/late` on 10.96.77.77:80 with one endpoint, 10.244.9.1:8080.
    static let lateService = """
        apiVersion: v1
        kind: Service
        metadata: {name: late, namespace: other}
        spec:
          clusterIP: 10.96.77.77
          ports:
          - {name: http, port: 80, targetPort: 8080}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: late-1, namespace: other, labels: {kubernetes.io/service-name: late}}
        addressType: IPv4
        ports:
        - {name: http, protocol: TCP, port: 8080}
        endpoints:
        - addresses: [10.244.9.1]
          conditions: {ready: true}
        """

    /// The file's text; a checkout without it cannot run these tests, so the failure names the path and stops.
    private static func shipped(_ relativePath: String) -> String {
        do throws(RepositoryFiles.ReadError) {
            return try RepositoryFiles.text(relativePath)
        } catch {
            fatalError("\(error)")
        }
    }
}

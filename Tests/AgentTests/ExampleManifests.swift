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

    /// The file's text; a checkout without it cannot run these tests, so the failure names the path and stops.
    private static func shipped(_ relativePath: String) -> String {
        do throws(RepositoryFiles.ReadError) {
            return try RepositoryFiles.text(relativePath)
        } catch {
            fatalError("\(error)")
        }
    }
}

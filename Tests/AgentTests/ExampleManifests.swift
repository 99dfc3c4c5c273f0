import Foundation

/// deploy/examples/manifests, copied so the tests do not depend on the working directory.
enum ExampleManifests {
    static let services = """
        # The Services of the README's demo. backend-api in production has no clusterIP: ipvsd allocates one from
        # serviceCIDRs and keeps it in its state file. The default-namespace backend-api has three ports, each its
        # own virtual server. backend-api-headless has no virtual server (clusterIP: None).
        apiVersion: v1
        kind: Service
        metadata: {name: backend-api, namespace: production}
        spec:
          type: ClusterIP
          selector: {app: backend-api, tier: backend}
          ports:
          - {name: http, protocol: TCP, port: 80, targetPort: 8080}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: backend-api}
        spec:
          clusterIP: 10.96.100.50
          selector: {app: backend-api}
          ports:
          - {name: http, port: 80, targetPort: 8080}
          - {name: metrics, port: 9090, targetPort: 9090}
          - {name: grpc, port: 50051, targetPort: 50051}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: backend-api-headless}
        spec:
          clusterIP: None
          selector: {app: backend-api}
          ports:
          - {name: http, port: 80, targetPort: 8080}

        """

    static let endpointSlices = """
        # The endpoints of the Services in services.yaml, as the EndpointSlice controller would write them.
        # The slice ports carry the resolved target ports; their names match the Service ports'.
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: backend-api-prod-1
          namespace: production
          labels: {kubernetes.io/service-name: backend-api}
        addressType: IPv4
        ports:
        - {name: http, protocol: TCP, port: 8080}
        endpoints:
        - addresses: [10.244.1.11]
          conditions: {ready: true}
          targetRef: {kind: Pod, namespace: production, name: backend-api-7d9f-a}
        - addresses: [10.244.1.12]
          conditions: {ready: true}
          targetRef: {kind: Pod, namespace: production, name: backend-api-7d9f-b}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: backend-api-1
          namespace: default
          labels: {kubernetes.io/service-name: backend-api}
        addressType: IPv4
        ports:
        - {name: http, protocol: TCP, port: 8080}
        - {name: metrics, protocol: TCP, port: 9090}
        - {name: grpc, protocol: TCP, port: 50051}
        endpoints:
        - addresses: [10.244.2.21]
          conditions: {ready: true}
          targetRef: {kind: Pod, namespace: default, name: backend-api-5c4b-x}
        - addresses: [10.244.2.22]
          conditions: {ready: true}
          targetRef: {kind: Pod, namespace: default, name: backend-api-5c4b-y}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: backend-api-headless-1
          namespace: default
          labels: {kubernetes.io/service-name: backend-api-headless}
        addressType: IPv4
        ports:
        - {name: http, protocol: TCP, port: 8080}
        endpoints:
        - addresses: [10.244.2.21]
          conditions: {ready: true}

        """

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
}

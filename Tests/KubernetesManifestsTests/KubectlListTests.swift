import IPVS
import KubernetesManifests
import ServiceTables
import Testing

/// What `kubectl get services,endpointslices -A -o yaml` prints (kubectl 1.30 against a kubeadm cluster, names
/// and UIDs shortened): one `kind: List` wrapping both kinds, with status, managedFields, ownerReferences, a
/// NodePort, `endpoints: null` for a Service without pods, and the `metadata.resourceVersion: ""` trailer.
/// deploy/kubernetes's manifest-sync sidecar writes exactly this to the manifests directory.
private let kubectlOutput = """
    apiVersion: v1
    items:
    - apiVersion: v1
      kind: Service
      metadata:
        creationTimestamp: "2024-05-01T09:00:00Z"
        labels:
          component: apiserver
          provider: kubernetes
        name: kubernetes
        namespace: default
        resourceVersion: "231"
        uid: 3b6f1d2e-0000-4000-8000-000000000001
      spec:
        clusterIP: 10.96.0.1
        clusterIPs:
        - 10.96.0.1
        internalTrafficPolicy: Cluster
        ipFamilies:
        - IPv4
        ipFamilyPolicy: SingleStack
        ports:
        - name: https
          port: 443
          protocol: TCP
          targetPort: 6443
        sessionAffinity: None
        type: ClusterIP
      status:
        loadBalancer: {}
    - apiVersion: v1
      kind: Service
      metadata:
        creationTimestamp: "2024-05-01T09:00:05Z"
        managedFields:
        - apiVersion: v1
          fieldsType: FieldsV1
          fieldsV1:
            f:spec:
              f:ports:
                k:{"port":80,"protocol":"TCP"}:
                  .: {}
                  f:targetPort: {}
          manager: kubectl-client-side-apply
          operation: Update
          time: "2024-05-01T09:00:05Z"
        name: web
        namespace: default
        resourceVersion: "1200"
        uid: 3b6f1d2e-0000-4000-8000-000000000002
      spec:
        allocateLoadBalancerNodePorts: true
        clusterIP: 10.104.12.34
        clusterIPs:
        - 10.104.12.34
        externalTrafficPolicy: Cluster
        internalTrafficPolicy: Cluster
        ipFamilies:
        - IPv4
        ipFamilyPolicy: SingleStack
        ports:
        - name: http
          nodePort: 31080
          port: 80
          protocol: TCP
          targetPort: http
        selector:
          app: web
        sessionAffinity: None
        type: LoadBalancer
      status:
        loadBalancer:
          ingress:
          - ip: 203.0.113.10
            ipMode: VIP
    - apiVersion: v1
      kind: Service
      metadata:
        name: web-headless
        namespace: default
        resourceVersion: "1201"
        uid: 3b6f1d2e-0000-4000-8000-000000000003
      spec:
        clusterIP: None
        clusterIPs:
        - None
        internalTrafficPolicy: Cluster
        ipFamilies:
        - IPv4
        ipFamilyPolicy: SingleStack
        ports:
        - name: http
          port: 80
          protocol: TCP
          targetPort: 8080
        selector:
          app: web
        sessionAffinity: None
        type: ClusterIP
      status:
        loadBalancer: {}
    - apiVersion: v1
      kind: Service
      metadata:
        name: idle
        namespace: default
        resourceVersion: "1300"
        uid: 3b6f1d2e-0000-4000-8000-000000000004
      spec:
        clusterIP: 10.100.0.50
        clusterIPs:
        - 10.100.0.50
        ports:
        - port: 8080
          protocol: TCP
          targetPort: 8080
        selector:
          app: idle
        sessionAffinity: None
        type: ClusterIP
      status:
        loadBalancer: {}
    - apiVersion: v1
      kind: Service
      metadata:
        annotations:
          prometheus.io/port: "9153"
          prometheus.io/scrape: "true"
        labels:
          k8s-app: kube-dns
          kubernetes.io/cluster-service: "true"
          kubernetes.io/name: CoreDNS
        name: kube-dns
        namespace: kube-system
        resourceVersion: "280"
        uid: 3b6f1d2e-0000-4000-8000-000000000005
      spec:
        clusterIP: 10.96.0.10
        clusterIPs:
        - 10.96.0.10
        internalTrafficPolicy: Cluster
        ipFamilies:
        - IPv4
        ipFamilyPolicy: SingleStack
        ports:
        - name: dns
          port: 53
          protocol: UDP
          targetPort: 53
        - name: dns-tcp
          port: 53
          protocol: TCP
          targetPort: 53
        - name: metrics
          port: 9153
          protocol: TCP
          targetPort: 9153
        selector:
          k8s-app: kube-dns
        sessionAffinity: None
        type: ClusterIP
      status:
        loadBalancer: {}
    - addressType: IPv4
      apiVersion: discovery.k8s.io/v1
      endpoints:
      - addresses:
        - 192.168.1.10
        conditions:
          ready: true
      kind: EndpointSlice
      metadata:
        generation: 1
        labels:
          kubernetes.io/service-name: kubernetes
        name: kubernetes
        namespace: default
        resourceVersion: "233"
        uid: 3b6f1d2e-0000-4000-8000-000000000011
      ports:
      - name: https
        port: 6443
        protocol: TCP
    - addressType: IPv4
      apiVersion: discovery.k8s.io/v1
      endpoints: null
      kind: EndpointSlice
      metadata:
        annotations:
          endpoints.kubernetes.io/last-change-trigger-time: "2024-05-01T09:10:00Z"
        generateName: idle-
        labels:
          endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
          kubernetes.io/service-name: idle
        name: idle-7zq2k
        namespace: default
        ownerReferences:
        - apiVersion: v1
          blockOwnerDeletion: true
          controller: true
          kind: Service
          name: idle
          uid: 3b6f1d2e-0000-4000-8000-000000000004
        resourceVersion: "1301"
        uid: 3b6f1d2e-0000-4000-8000-000000000012
      ports: null
    - addressType: IPv4
      apiVersion: discovery.k8s.io/v1
      endpoints:
      - addresses:
        - 10.244.1.5
        conditions:
          ready: true
          serving: true
          terminating: false
        nodeName: node-1
        targetRef:
          kind: Pod
          name: web-6d4cf56db6-abcde
          namespace: default
          uid: 3b6f1d2e-0000-4000-8000-000000000021
        zone: zone-a
      - addresses:
        - 10.244.2.7
        conditions:
          ready: false
          serving: true
          terminating: true
        nodeName: node-2
        targetRef:
          kind: Pod
          name: web-6d4cf56db6-fghij
          namespace: default
          uid: 3b6f1d2e-0000-4000-8000-000000000022
        zone: zone-b
      kind: EndpointSlice
      metadata:
        generateName: web-
        labels:
          endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
          kubernetes.io/service-name: web
        name: web-x8k2p
        namespace: default
        resourceVersion: "1250"
        uid: 3b6f1d2e-0000-4000-8000-000000000013
      ports:
      - name: http
        port: 8080
        protocol: TCP
    - addressType: IPv4
      apiVersion: discovery.k8s.io/v1
      endpoints:
      - addresses:
        - 10.244.1.5
        conditions:
          ready: true
      kind: EndpointSlice
      metadata:
        labels:
          kubernetes.io/service-name: web-headless
          service.kubernetes.io/headless: ""
        name: web-headless-q9w8e
        namespace: default
        resourceVersion: "1251"
      ports:
      - name: http
        port: 8080
        protocol: TCP
    - addressType: IPv4
      apiVersion: discovery.k8s.io/v1
      endpoints:
      - addresses:
        - 10.244.0.2
        conditions:
          ready: true
          serving: true
          terminating: false
        hints:
          forZones:
          - name: zone-a
        nodeName: cp-1
        targetRef:
          kind: Pod
          name: coredns-7db6d8ff4d-aaaaa
          namespace: kube-system
      - addresses:
        - 10.244.0.3
        conditions:
          ready: true
          serving: true
          terminating: false
        nodeName: cp-1
        targetRef:
          kind: Pod
          name: coredns-7db6d8ff4d-bbbbb
          namespace: kube-system
      kind: EndpointSlice
      metadata:
        generateName: kube-dns-
        labels:
          kubernetes.io/service-name: kube-dns
        name: kube-dns-5v7lm
        namespace: kube-system
        resourceVersion: "300"
      ports:
      - name: dns-tcp
        port: 53
        protocol: TCP
      - name: dns
        port: 53
        protocol: UDP
      - name: metrics
        port: 9153
        protocol: TCP
    kind: List
    metadata:
      resourceVersion: ""

    """

private func server(_ address: String, _ port: UInt16) -> RealServer.ID {
    RealServer.ID(address: IPAddress(address)!, port: port)
}

@Suite struct KubectlListTests {
    @Test func kubectlGetOutputLoadsWithoutErrors() throws {
        let set = try ManifestLoader.parse(kubectlOutput, file: "cluster.yaml")
        #expect(
            set.services.map { "\($0.namespace)/\($0.name)" }.sorted() == [
                "default/idle", "default/kubernetes", "default/web", "default/web-headless", "kube-system/kube-dns",
            ]
        )
        #expect(
            set.endpointSlices.map(\.name).sorted() == [
                "idle-7zq2k", "kube-dns-5v7lm", "kubernetes", "web-headless-q9w8e", "web-x8k2p",
            ]
        )
    }

    @Test func kubectlGetOutputBuildsTheClusterServices() throws {
        let set = try ManifestLoader.parse(kubectlOutput, file: "cluster.yaml")
        let (state, _, notes) = try DesiredStateBuilder.build(
            set,
            options: TranslationOptions(),
            allocations: ClusterIPAllocations()
        )
        let dns = IPAddress("10.96.0.10")!
        let expected: [VirtualServer.ID: Set<RealServer.ID>] = [
            .service(.tcp, IPAddress("10.96.0.1")!, port: 443): [server("192.168.1.10", 6443)],
            .service(.udp, dns, port: 53): [server("10.244.0.2", 53), server("10.244.0.3", 53)],
            .service(.tcp, dns, port: 53): [server("10.244.0.2", 53), server("10.244.0.3", 53)],
            .service(.tcp, dns, port: 9153): [server("10.244.0.2", 9153), server("10.244.0.3", 9153)],
            // Named targetPort `http` resolves to the slice's 8080; the terminating endpoint is kept with
            // its conditions (the serving policy, not the builder, decides whether it gets traffic).
            .service(.tcp, IPAddress("10.104.12.34")!, port: 80): [
                server("10.244.1.5", 8080), server("10.244.2.7", 8080),
            ],
            .service(.tcp, IPAddress("203.0.113.10")!, port: 80): [
                server("10.244.1.5", 8080), server("10.244.2.7", 8080),
            ],
            // A Service without pods still gets its virtual server, with no real servers.
            .service(.tcp, IPAddress("10.100.0.50")!, port: 8080): [],
        ]
        #expect(state.virtualServers.mapValues { Set($0.realServers.keys) } == expected)
        let terminating = state.virtualServers[.service(.tcp, IPAddress("10.104.12.34")!, port: 80)]?
            .realServers[server("10.244.2.7", 8080)]?.conditions
        #expect(terminating == EndpointConditions(ready: false, serving: true, terminating: true))
        #expect(notes.contains { $0.contains("default/web-headless") && $0.contains("headless") })
    }
}

/// JSON for the objects tests put into the stand-in, shaped as the API serves them.
public enum StandInObjects {
    /// A ClusterIP Service with TCP ports named `p<port>` (a single port is unnamed).
    public static func service(
        _ name: String,
        namespace: String = "default",
        clusterIP: String,
        ports: [Int] = [80],
        labels: [String: String] = [:],
        annotations: [String: String] = [:]
    ) -> String {
        let portList = ports.map { port in
            let name = ports.count > 1 ? #""name":"p\#(port)","# : ""
            return #"{\#(name)"protocol":"TCP","port":\#(port),"targetPort":\#(port + 8000)}"#
        }
        return
            #"{"metadata":{"name":"\#(name)","namespace":"\#(namespace)","labels":\#(map(labels)),"annotations":\#(map(annotations))},"spec":{"type":"ClusterIP","clusterIP":"\#(clusterIP)","clusterIPs":["\#(clusterIP)"],"ports":[\#(portList.joined(separator: ","))]}}"#
    }

    /// An IPv4 EndpointSlice of `service` with one endpoint per address on `port` (unnamed port when the
    /// Service has one port); `notReady` addresses are not ready; `zones` gives each endpoint, in order, a
    /// zone hint (`hints.forZones`), as the EndpointSlice controller sets for topology-aware routing.
    public static func slice(
        _ name: String,
        service: String,
        namespace: String = "default",
        addresses: [String],
        notReady: Set<String> = [],
        port: Int,
        portName: String = "",
        nodeNames: [String] = [],
        zones: [String] = []
    ) -> String {
        let endpoints =
            addresses.isEmpty
            ? "null"
            : "["
                + addresses.enumerated().map { index, address in
                    let ready = !notReady.contains(address)
                    let node = index < nodeNames.count ? #","nodeName":"\#(nodeNames[index])""# : ""
                    let hint = index < zones.count ? #","hints":{"forZones":[{"name":"\#(zones[index])"}]}"# : ""
                    return
                        #"{"addresses":["\#(address)"],"conditions":{"ready":\#(ready),"serving":\#(ready),"terminating":false}\#(node)\#(hint)}"#
                }.joined(separator: ",") + "]"
        return
            #"{"metadata":{"name":"\#(name)","namespace":"\#(namespace)","labels":{"kubernetes.io/service-name":"\#(service)"}},"addressType":"IPv4","endpoints":\#(endpoints),"ports":[{"name":"\#(portName)","protocol":"TCP","port":\#(port)}]}"#
    }

    private static func map(_ values: [String: String]) -> String {
        "{" + values.sorted { $0.key < $1.key }.map { #""\#($0.key)":"\#($0.value)""# }.joined(separator: ",") + "}"
    }
}

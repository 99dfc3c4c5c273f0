import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A stand-in Kubernetes API server for tests: Services (v1) and EndpointSlices (discovery.k8s.io/v1),
/// served over TLS by SwiftNIO with a CA the tests generate (`StandInPKI`). Written from the Kubernetes
/// "API Concepts" reference (kubernetes.io/docs/reference/using-api/api-concepts); each part follows
/// the section named here:
///
/// - "Resource URIs": cluster-wide collections (`/api/v1/services`,
///   `/apis/discovery.k8s.io/v1/endpointslices`), namespaced ones (`/api/v1/namespaces/NS/services`) and
///   single objects, and single cluster-scoped Nodes (`/api/v1/nodes/NAME`, `setNode`: the zone label a node
///   proxy reads); discovery documents (`/api`, `/apis`, `/api/v1`, the group version) for kubectl.
/// - "Resource versions": opaque strings (see `StandInStore`), never numbers.
/// - "Retrieving large results sets in chunks": `limit` and `continue`; `maxPageItems` makes the server
///   return fewer objects than the limit, which the reference allows ("fewer than limit ... only
///   `continue` says whether more remain"). List items carry no kind or apiVersion, as real servers send.
/// - "Efficient detection of changes": `?watch=1` answers 200 and streams one JSON event per line
///   (`{"type":...,"object":...}`) over chunked HTTP; `timeoutSeconds` ends the stream cleanly. With a
///   label selector, an object that starts or stops matching is ADDED or DELETED.
/// - "Watch bookmarks": with `allowWatchBookmarks=true`, `bookmark()` sends a BOOKMARK whose object holds
///   only kind, apiVersion and `metadata.resourceVersion`.
/// - "410 Gone responses": a watch from a compacted resourceVersion gets an ERROR event whose object is a
///   Status with code 410 and reason Expired (or an HTTP 410, `goneAsHTTPStatus`); an expired continue
///   token gets HTTP 410.
/// - Errors are `Status` objects (kind Status, code, reason, message), as in "API Concepts" and the
///   apimachinery Status type; 429 carries Retry-After.
/// Fault injection (`failNext`, `dropWatches`, `injectLine`) plays the server that misbehaves.
public final class StandInAPIServer: Sendable {
    public enum Resource: String, Sendable, CaseIterable {
        case services
        case endpointSlices = "endpointslices"

        var kind: String { self == .services ? "Service" : "EndpointSlice" }
        var apiVersion: String { self == .services ? "v1" : "discovery.k8s.io/v1" }
    }

    /// One request the server answered, for assertions.
    public struct Request: Sendable, CustomStringConvertible {
        public var path: String
        public var query: [String: String]
        public var resource: Resource?
        public var isWatch: Bool { query["watch"] == "1" || query["watch"] == "true" }
        public var isList: Bool { resource != nil && !isWatch }
        public var description: String {
            path + "?" + query.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: "&")
        }
    }

    /// A failure served instead of the next matching collection request.
    public struct Failure: Sendable {
        public var status: Int
        public var retryAfter: Int?
        /// nil: any; true: watches only; false: lists only.
        public var watch: Bool?
        public init(status: Int, retryAfter: Int? = nil, watch: Bool? = nil) {
            self.status = status
            self.retryAfter = retryAfter
            self.watch = watch
        }
    }

    struct Subscriber {
        var channel: any Channel
        var resource: Resource
        var filter: ObjectFilter
        var bookmarks: Bool
    }

    struct State {
        var store = StandInStore()
        var subscribers: [ObjectIdentifier: Subscriber] = [:]
        var failures: [Failure] = []
        var requests: [Request] = []
        var token: String?
        var forbidden: Set<Resource> = []
        var maxPageItems: Int?
        var goneAsHTTPStatus = false
        var maxWatchSeconds: Int?
        /// Node objects by name (JSON), served at `/api/v1/nodes/NAME`; `nodesForbidden` answers 403 there.
        var nodes: [String: String] = [:]
        var nodesForbidden = false
        /// Node GETs still to answer 500 (`failNextNodeGets`).
        var nodeFailures = 0
    }

    let state = Mutex(State())
    private let channel: any Channel
    public let pki: StandInPKI
    public let port: Int

    public var url: String { "https://127.0.0.1:\(port)" }

    /// Starts serving on 127.0.0.1 at a free port.
    public init(pki: StandInPKI) async throws {
        self.pki = pki
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(pki.serverCertificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: pki.serverKey, format: .pem))
        )
        let context = try NIOSSLContext(configuration: configuration)
        let box = ServerBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(StandInHandler(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        box.server.withLock { $0 = self }
    }

    public func shutdown() async {
        let subscribers = state.withLock { state in
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { try? await subscriber.channel.close() }
        try? await channel.close()
    }

    /// A kubeconfig for this server, written into the PKI directory.
    /// - Parameters: ca: the CA file to trust (default the right one); token: the user's token.
    public func writeKubeconfig(
        name: String? = nil,
        ca: String? = nil,
        token: String? = nil,
        tokenFile: String? = nil
    ) throws -> String {
        // Servers share the PKI directory: each names its files after its port.
        let path = pki.directory + "/" + (name ?? "kubeconfig") + "-\(port)"
        var user = ""
        if let token { user += "    token: \(token)\n" }
        if let tokenFile { user += "    tokenFile: \(tokenFile)\n" }
        if user.isEmpty { user = "    {}\n" }
        let text = """
            apiVersion: v1
            kind: Config
            current-context: standin
            clusters:
            - name: standin
              cluster:
                server: \(url)
                certificate-authority: \(ca ?? pki.caCertificate)
            users:
            - name: tester
              user:
            \(user)contexts:
            - name: standin
              context:
                cluster: standin
                user: tester

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    // MARK: Controls

    /// Creates or replaces an object (JSON text) and sends the change to watchers.
    @discardableResult
    public func apply(_ resource: Resource, _ json: String) -> String {
        state.withLock { state in
            let previous = Self.previous(state, resource, json)
            let change = state.store.upsert(resource.rawValue, json)
            Self.broadcast(change, previous: previous, resource: resource, state: &state)
            return StandInStore.version(change.revision)
        }
    }

    public func delete(_ resource: Resource, namespace: String, name: String) {
        state.withLock { state in
            guard let change = state.store.delete(resource.rawValue, namespace: namespace, name: name) else { return }
            Self.broadcast(change, previous: change.object, resource: resource, state: &state)
        }
    }

    /// Expires every resourceVersion up to now and the change history: watches from them, and continue
    /// tokens, get 410.
    public func compact() { state.withLock { $0.store.compact() } }

    /// Sends a BOOKMARK at the current resourceVersion to every watch that asked for bookmarks.
    public func bookmark() {
        state.withLock { state in
            let version = StandInStore.version(state.store.revision)
            for subscriber in state.subscribers.values where subscriber.bookmarks {
                let line =
                    #"{"type":"BOOKMARK","object":{"kind":"\#(subscriber.resource.kind)","apiVersion":"\#(subscriber.resource.apiVersion)","metadata":{"resourceVersion":"\#(version)"}}}"#
                Self.write(line + "\n", to: subscriber.channel)
            }
        }
    }

    /// Cuts every open watch connection, after half an event line when `midEvent`.
    public func dropWatches(midEvent: Bool = false) {
        let channels = state.withLock { state in
            defer { state.subscribers = [:] }
            return state.subscribers.values.map(\.channel)
        }
        for channel in channels {
            if midEvent { Self.write(#"{"type":"MODIFIED","object":{"metadata":"#, to: channel) }
            channel.close(promise: nil)
        }
    }

    /// Sends `line` (plus a newline) to every watch of `resource`, as it is.
    public func injectLine(_ resource: Resource, _ line: String) {
        state.withLock { state in
            for subscriber in state.subscribers.values where subscriber.resource == resource {
                Self.write(line + "\n", to: subscriber.channel)
            }
        }
    }

    public func failNext(_ failures: [Failure]) { state.withLock { $0.failures += failures } }
    public func requireToken(_ token: String?) { state.withLock { $0.token = token } }
    public func forbid(_ resource: Resource) { state.withLock { _ = $0.forbidden.insert(resource) } }
    /// Answers 403 to `GET /api/v1/nodes/NAME`, as for an identity with no `get` on nodes.
    public func forbidNodes() { state.withLock { $0.nodesForbidden = true } }
    /// Answers the next `count` Node GETs with 500, as a server that is starting or overloaded.
    public func failNextNodeGets(_ count: Int) { state.withLock { $0.nodeFailures = count } }
    /// Holds a Node named `name` with `labels` (a cluster-scoped object: the kubelet registers it).
    public func setNode(_ name: String, labels: [String: String]) throws {
        let object: [String: Any] = [
            "kind": "Node", "apiVersion": "v1",
            "metadata": ["name": name, "resourceVersion": "1", "labels": labels],
        ]
        let text = String(
            decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            as: UTF8.self
        )
        state.withLock { $0.nodes[name] = text }
    }
    public func setMaxPageItems(_ count: Int?) { state.withLock { $0.maxPageItems = count } }
    public func setGoneAsHTTPStatus(_ value: Bool) { state.withLock { $0.goneAsHTTPStatus = value } }
    /// Ends every watch after at most this many seconds, whatever timeoutSeconds asked (kube-apiserver ends
    /// watches after its own request timeout too), so a bench sees renewals without waiting minutes.
    public func setMaxWatchSeconds(_ seconds: Int?) { state.withLock { $0.maxWatchSeconds = seconds } }
    public var requests: [Request] { state.withLock { $0.requests } }
    public var openWatches: Int { state.withLock { $0.subscribers.count } }
    /// The current resourceVersion.
    public var resourceVersion: String { state.withLock { StandInStore.version($0.store.revision) } }

    // MARK: Serving

    private static func previous(_ state: State, _ resource: Resource, _ json: String) -> StandInStore.Object? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let metadata = object["metadata"] as? [String: Any]
        else { return nil }
        let key = "\(metadata["namespace"] as? String ?? "default")/\(metadata["name"] as? String ?? "")"
        return state.store.objects[resource.rawValue]?[key]
    }

    /// Sends a change to each matching watch: with a selector, an object entering the selection is ADDED
    /// and one leaving it DELETED.
    private static func broadcast(
        _ change: StandInStore.Change,
        previous: StandInStore.Object?,
        resource: Resource,
        state: inout State
    ) {
        for subscriber in state.subscribers.values where subscriber.resource == resource {
            let now = subscriber.filter.matches(change.object)
            let before = previous.map(subscriber.filter.matches) ?? false
            let type: String
            switch (change.type, before, now) {
            case ("DELETED", true, _): type = "DELETED"
            case ("DELETED", false, _): continue
            case (_, true, true): type = "MODIFIED"
            case (_, false, true): type = "ADDED"
            case (_, true, false): type = "DELETED"
            default: continue
            }
            write(eventLine(type, change.object, resource: resource), to: subscriber.channel)
        }
    }

    static func eventLine(_ type: String, _ object: StandInStore.Object, resource: Resource) -> String {
        #"{"type":"\#(type)","object":\#(withKind(object, resource))}"# + "\n"
    }

    /// The object with kind and apiVersion, as watch events and single GETs carry it.
    static func withKind(_ object: StandInStore.Object, _ resource: Resource) -> String {
        let body = String(decoding: object.json, as: UTF8.self)
        let rest = body.dropFirst()  // "{"
        let separator = rest.hasPrefix("}") ? "" : ","
        return #"{"apiVersion":"\#(resource.apiVersion)","kind":"\#(resource.kind)""# + separator + rest
    }

    static func write(_ text: String, to channel: any Channel) {
        let buffer = channel.allocator.buffer(string: text)
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
    }

    /// Answers one request; a watch registers `channel` and returns nil (the handler then streams).
    func respond(to head: HTTPRequestHead, channel: any Channel) -> StandInResponse? {
        let components = URLComponents(string: head.uri)
        let path = components?.path ?? head.uri
        var query: [String: String] = [:]
        for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let route = Route(path)
        return state.withLock { state -> StandInResponse? in
            state.requests.append(Request(path: path, query: query, resource: route.resource))
            if let token = state.token, head.headers.first(name: "Authorization") != "Bearer \(token)" {
                return .status(401, reason: "Unauthorized", message: "Unauthorized")
            }
            switch route {
            case .document(let text): return .json(200, text(port))
            case .notFound:
                return .status(404, reason: "NotFound", message: "the server could not find the requested resource")
            case .node(let name):
                if state.nodeFailures > 0 {
                    state.nodeFailures -= 1
                    return .status(500, reason: "InternalError", message: "injected failure")
                }
                if state.nodesForbidden {
                    return .status(
                        403,
                        reason: "Forbidden",
                        message: "nodes \"\(name)\" is forbidden: User \"system:serviceaccount:kube-system:ipvsd\" "
                            + "cannot get resource \"nodes\" at the cluster scope"
                    )
                }
                guard let node = state.nodes[name] else {
                    return .status(404, reason: "NotFound", message: "nodes \"\(name)\" not found")
                }
                return .json(200, node)
            case .object(let resource, let namespace, let name):
                guard let object = state.store.objects[resource.rawValue]?["\(namespace)/\(name)"] else {
                    return .status(404, reason: "NotFound", message: "\(resource.rawValue) \"\(name)\" not found")
                }
                return .json(200, Self.withKind(object, resource))
            case .collection(let resource, let namespace):
                let watch = query["watch"] == "1" || query["watch"] == "true"
                if state.forbidden.contains(resource) {
                    return .status(
                        403,
                        reason: "Forbidden",
                        message: "\(resource.rawValue) is forbidden: User \"system:serviceaccount:kube-system:ipvsd\" "
                            + "cannot \(watch ? "watch" : "list") resource \"\(resource.rawValue)\" at the cluster scope"
                    )
                }
                if let index = state.failures.firstIndex(where: { $0.watch == nil || $0.watch == watch }) {
                    let failure = state.failures.remove(at: index)
                    return .status(
                        failure.status,
                        reason: failure.status == 429 ? "TooManyRequests" : "InternalError",
                        message: "injected failure",
                        retryAfter: failure.retryAfter
                    )
                }
                let filter = ObjectFilter(
                    namespace: namespace,
                    labelSelector: query["labelSelector"],
                    fieldSelector: query["fieldSelector"]
                )
                if watch {
                    return Self.startWatch(resource, filter: filter, query: query, channel: channel, state: &state)
                }
                return Self.list(resource, filter: filter, query: query, state: &state)
            }
        }
    }

    private static func list(
        _ resource: Resource,
        filter: ObjectFilter,
        query: [String: String],
        state: inout State
    )
        -> StandInResponse
    {
        let limit = Int(query["limit"] ?? "") ?? 0
        var items: [StandInStore.Object]
        var offset = 0
        var snapshotRevision = state.store.revision
        var snapshotID = ""
        if let token = query["continue"], !token.isEmpty {
            let parts = token.split(separator: ":").map(String.init)
            guard parts.count == 2, let snapshot = state.store.snapshots[parts[0]], let start = Int(parts[1]) else {
                return .status(
                    410,
                    reason: "Expired",
                    message: "The provided continue parameter is too old to display a consistent list result."
                )
            }
            items = snapshot.items
            offset = start
            snapshotRevision = snapshot.revision
            snapshotID = parts[0]
        } else {
            items = state.store.list(resource.rawValue, filter: filter)
        }
        var count = limit > 0 ? limit : items.count
        if let maxPageItems = state.maxPageItems { count = min(count, maxPageItems) }
        let end = min(items.count, offset + count)
        var continueToken = ""
        if end < items.count {
            if snapshotID.isEmpty {
                snapshotID = "s\(state.store.snapshots.count + 1)x\(snapshotRevision)"
                state.store.snapshots[snapshotID] = (snapshotRevision, items)
            }
            continueToken = "\(snapshotID):\(end)"
        }
        let body = items[offset..<end].map { String(decoding: $0.json, as: UTF8.self) }.joined(separator: ",")
        let continuePart = continueToken.isEmpty ? "" : #","continue":"\#(continueToken)""#
        return .json(
            200,
            #"{"kind":"\#(resource.kind)List","apiVersion":"\#(resource.apiVersion)","metadata":{"resourceVersion":"\#(StandInStore.version(snapshotRevision))"\#(continuePart)},"items":[\#(body)]}"#
        )
    }

    private static func startWatch(
        _ resource: Resource,
        filter: ObjectFilter,
        query: [String: String],
        channel: any Channel,
        state: inout State
    ) -> StandInResponse? {
        let version = query["resourceVersion"] ?? ""
        var backlog: [String] = []
        if version.isEmpty || version == "0" {
            backlog = state.store.list(resource.rawValue, filter: filter).map {
                eventLine("ADDED", $0, resource: resource)
            }
        } else {
            guard let revision = StandInStore.revision(of: version), revision >= state.store.compactedBefore else {
                let message = "too old resource version: \(version) (\(StandInStore.version(state.store.revision)))"
                if state.goneAsHTTPStatus { return .status(410, reason: "Expired", message: message) }
                return .watchError(
                    #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"\#(message)","reason":"Expired","code":410}}"#
                        + "\n"
                )
            }
            for change in state.store.history[resource.rawValue] ?? [] where change.revision > revision {
                guard filter.matches(change.object) else { continue }
                backlog.append(eventLine(change.type, change.object, resource: resource))
            }
        }
        state.subscribers[ObjectIdentifier(channel)] = Subscriber(
            channel: channel,
            resource: resource,
            filter: filter,
            bookmarks: query["allowWatchBookmarks"] == "true"
        )
        var timeout = Int(query["timeoutSeconds"] ?? "")
        if let cap = state.maxWatchSeconds { timeout = min(timeout ?? cap, cap) }
        return .watch(backlog: backlog, timeoutSeconds: timeout)
    }

    func endWatch(_ channel: any Channel) -> Bool {
        state.withLock { $0.subscribers.removeValue(forKey: ObjectIdentifier(channel)) != nil }
    }
}

enum StandInResponse {
    case json(Int, String, retryAfter: Int? = nil)
    /// A watch: the events to send first; then the channel stays subscribed.
    case watch(backlog: [String], timeoutSeconds: Int?)
    /// A watch answered with one ERROR event and ended.
    case watchError(String)

    static func status(_ code: Int, reason: String, message: String, retryAfter: Int? = nil) -> StandInResponse {
        let message = message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return .json(
            code,
            #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"\#(message)","reason":"\#(reason)","code":\#(code)}"#,
            retryAfter: retryAfter
        )
    }
}

/// What a path names.
enum Route {
    case document(@Sendable (Int) -> String)
    case collection(StandInAPIServer.Resource, namespace: String?)
    case object(StandInAPIServer.Resource, namespace: String, name: String)
    /// `/api/v1/nodes/NAME` (Nodes are cluster-scoped).
    case node(String)
    case notFound

    var resource: StandInAPIServer.Resource? {
        if case .collection(let resource, _) = self { return resource }
        return nil
    }

    init(_ path: String) {
        let parts = path.split(separator: "/").map(String.init)
        let prefixes: [(prefix: [String], resource: StandInAPIServer.Resource)] = [
            (["api", "v1"], .services), (["apis", "discovery.k8s.io", "v1"], .endpointSlices),
        ]
        for (prefix, resource) in prefixes where parts.starts(with: prefix) {
            let rest = Array(parts.dropFirst(prefix.count))
            switch rest.count {
            case 0:
                let document: @Sendable (Int) -> String =
                    resource == .services ? Discovery.coreResources : Discovery.groupResources
                self = .document(document)
            case 1 where rest[0] == resource.rawValue: self = .collection(resource, namespace: nil)
            case 2 where resource == .services && rest[0] == "nodes": self = .node(rest[1])
            case 3 where rest[0] == "namespaces" && rest[2] == resource.rawValue:
                self = .collection(resource, namespace: rest[1])
            case 4 where rest[0] == "namespaces" && rest[2] == resource.rawValue:
                self = .object(resource, namespace: rest[1], name: rest[3])
            default: self = .notFound
            }
            return
        }
        switch parts {
        case ["api"]: self = .document(Discovery.apiVersions)
        case ["apis"]: self = .document(Discovery.groups)
        case ["version"]:
            self = .document { _ in
                #"{"major":"1","minor":"31","gitVersion":"v1.31.0-standin","platform":"linux/amd64"}"#
            }
        default: self = .notFound
        }
    }
}

/// The legacy discovery documents kubectl reads to map `svc` to a path.
enum Discovery {
    static func apiVersions(_ port: Int) -> String {
        #"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1:\#(port)"}]}"#
    }
    static func groups(_: Int) -> String {
        #"{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"discovery.k8s.io","versions":[{"groupVersion":"discovery.k8s.io/v1","version":"v1"}],"preferredVersion":{"groupVersion":"discovery.k8s.io/v1","version":"v1"}}]}"#
    }
    static func coreResources(_: Int) -> String {
        #"{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"services","singularName":"service","namespaced":true,"kind":"Service","verbs":["get","list","watch"],"shortNames":["svc"]}]}"#
    }
    static func groupResources(_: Int) -> String {
        #"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"discovery.k8s.io/v1","resources":[{"name":"endpointslices","singularName":"endpointslice","namespaced":true,"kind":"EndpointSlice","verbs":["get","list","watch"]}]}"#
    }
}

/// Lets the handlers reach the server, which is made after the bootstrap that makes them.
final class ServerBox: Sendable {
    let server = Mutex<StandInAPIServer?>(nil)
}

/// One connection: routes each request, streams watches, ends a watch after its timeoutSeconds.
final class StandInHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let box: ServerBox
    private var head: HTTPRequestHead?

    init(box: ServerBox) { self.box = box }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head, let server = box.server.withLock({ $0 }) else { return }
            self.head = nil
            respond(head, server: server, context: context)
        }
    }

    private func respond(_ head: HTTPRequestHead, server: StandInAPIServer, context: ChannelHandlerContext) {
        let channel = context.channel
        var headers = HTTPHeaders([("Content-Type", "application/json")])
        // Registered and sent under the server's lock, so no change falls between the backlog and the live
        // events; the backlog is written here, on the channel's loop, before any later broadcast runs.
        guard let response = server.respond(to: head, channel: channel) else { return }
        switch response {
        case .json(let code, let body, let retryAfter):
            if let retryAfter { headers.add(name: "Retry-After", value: "\(retryAfter)") }
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: head.version, status: .init(statusCode: code), headers: headers))
                ),
                promise: nil
            )
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
                promise: nil
            )
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        case .watchError(let line):
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))),
                promise: nil
            )
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: line)))),
                promise: nil
            )
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        case .watch(let backlog, let timeoutSeconds):
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))),
                promise: nil
            )
            for line in backlog {
                context.write(
                    wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: line)))),
                    promise: nil
                )
            }
            context.flush()
            if let timeoutSeconds, timeoutSeconds > 0 {
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .seconds(Int64(timeoutSeconds))) {
                    guard server.endWatch(channel) else { return }
                    loopBound.value.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
                }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        _ = box.server.withLock { $0 }?.endWatch(context.channel)
        context.fireChannelInactive()
    }
}

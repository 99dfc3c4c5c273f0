/// One resource of the Kubernetes API source in `GET /v1/status`.
public struct KubernetesResourceStatus: Codable, Sendable, Equatable {
    /// `services` or `endpointslices`.
    public var resource: String
    /// `starting`, `listing`, `watching` or `backing-off`.
    public var state: String
    /// Whether a complete list was received.
    public var synced: Bool
    /// The last resourceVersion seen (list, event or bookmark).
    public var resourceVersion: String
    public var watchRestarts: Int
    public var relists: Int
    public var apiErrors: Int
    public var rejectedObjects: Int
    /// The last failure, until a list or watch succeeds.
    public var lastError: String?

    public init(
        resource: String,
        state: String,
        synced: Bool,
        resourceVersion: String,
        watchRestarts: Int,
        relists: Int,
        apiErrors: Int,
        rejectedObjects: Int,
        lastError: String?
    ) {
        self.resource = resource
        self.state = state
        self.synced = synced
        self.resourceVersion = resourceVersion
        self.watchRestarts = watchRestarts
        self.relists = relists
        self.apiErrors = apiErrors
        self.rejectedObjects = rejectedObjects
        self.lastError = lastError
    }
}

import Foundation

/// An agent-level failure: what failed and where (`message`), which part of the agent it concerns (`code`, for
/// programs and metrics) and the error underneath (`cause`, kept whole rather than flattened into the text),
/// in the manner of swift-system's `Errno` and swift-nio's `IOError`.
public struct AgentError: Error, CustomStringConvertible, Sendable {
    /// Which part of the agent failed. Open like swift-nio's error codes: new ones may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ name: String) { description = name }

        /// The IPVS table could not be opened, read or changed.
        public static let kernel = Code("kernel")
        /// The host network (dummy interface, addresses, sysctls, nftables) could not be prepared or read.
        public static let hostNetwork = Code("host network")
        /// The state file is unsafe, unreadable, corrupt or cannot be written.
        public static let stateFile = Code("state file")
        /// The admin socket's path or directory is unsafe or unusable.
        public static let adminSocket = Code("admin socket")
        /// A listener (metrics, admin, DNS, health-check node port) cannot bind or serve.
        public static let listener = Code("listener")
        /// A setting, flag or environment variable is invalid.
        public static let configuration = Code("configuration")
        /// A process resource (open-file limit) is too small or cannot be read.
        public static let resources = Code("resources")
        /// The Kubernetes API source failed.
        public static let kubernetes = Code("kubernetes")
    }

    public var code: Code
    /// What failed and where: `state file /var/lib/ipvsd/state.json: cannot open`.
    public var message: String
    /// The error underneath, when there is one.
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The message, then the cause's own text: `cannot open IPVS: <the IPVS error>`.
    public var description: String { cause.map { "\(message): \($0)" } ?? message }

    /// A system call's failure, its errno kept as the cause.
    static func system(_ code: Code, _ message: String, errno: Int32 = errno) -> AgentError {
        AgentError(code, message, cause: SystemCallError(errno: errno))
    }
}

/// A failed system call's errno; its text is strerror's.
public struct SystemCallError: Error, CustomStringConvertible, Sendable, Hashable {
    public var errno: Int32
    public init(errno: Int32) { self.errno = errno }
    public var description: String { String(cString: strerror(errno)) }
}

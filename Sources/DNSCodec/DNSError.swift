/// Why a message could not be decoded or encoded, with the byte offset where decoding stopped.
public struct DNSError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case truncated, badName, badPointer, badRecord, badQuery, tooLarge
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The message ends inside a field.
        public static let truncated = Code(.truncated)
        /// A label or name over its bound, or an unknown label type.
        public static let badName = Code(.badName)
        /// A compression pointer that does not point strictly backwards (which is how loops are refused).
        public static let badPointer = Code(.badPointer)
        /// Record data whose length disagrees with its type, or a misplaced OPT record.
        public static let badRecord = Code(.badRecord)
        /// A query this responder does not take (question count other than 1, a response, ...).
        public static let badQuery = Code(.badQuery)
        /// A message over 65,535 bytes.
        public static let tooLarge = Code(.tooLarge)

        public var description: String {
            switch value {
            case .truncated: "truncated"
            case .badName: "bad name"
            case .badPointer: "bad compression pointer"
            case .badRecord: "bad record"
            case .badQuery: "bad query"
            case .tooLarge: "too large"
            }
        }
    }

    public let code: Code
    public let message: String
    /// Where in the message decoding stopped; nil for encoding errors.
    public let offset: Int?

    public init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    public var description: String {
        offset.map { "\(code) at byte \($0): \(message)" } ?? "\(code): \(message)"
    }
}

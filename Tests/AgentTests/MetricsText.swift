/// Reading samples back from Prometheus exposition text, as a scraper would.
enum MetricsText {
    /// The integer value of the first sample of `name` whose labels include every one of `labels`; nil when
    /// there is none.
    static func value(in text: String, of name: String, labels: KeyValuePairs<String, String>) -> Int? {
        text.split(separator: "\n").lazy
            .filter { line in
                line.hasPrefix(name + "{") && labels.allSatisfy { line.contains("\($0.key)=\"\($0.value)\"") }
            }
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.first
    }
}

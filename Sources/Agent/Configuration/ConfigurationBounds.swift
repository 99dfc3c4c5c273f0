/// The ranges of the config file's durations, as docs/ipvsd.md documents them.
///
/// The lower bounds keep a typo (`1ns`, `1ms`) from turning a periodic task into a busy loop that reads the
/// kernel or the manifests thousands of times a second; the upper bounds keep a slip (`30h` for `30s`) from
/// disabling a safety net for days.
public enum ConfigurationBounds {
    public static let resyncPeriod: ClosedRange<Duration> = .seconds(1)...hours(24)
    /// 0 turns coalescing off; more than 10 s would delay every change by that much.
    public static let debounce: ClosedRange<Duration> = .zero...(.seconds(10))
    public static let watchInterval: ClosedRange<Duration> = .milliseconds(100)...hours(1)
    public static let gracePeriod: ClosedRange<Duration> = .zero...hours(24)
    public static let drainCheckInterval: ClosedRange<Duration> = .milliseconds(100)...(.seconds(60))
    /// The backoff starts at 1 s, so a smaller cap would make no sense.
    public static let maxRetryBackoff: ClosedRange<Duration> = .seconds(1)...hours(1)
    public static let healthInterval: ClosedRange<Duration> = .milliseconds(100)...hours(1)
    /// Also at most the interval.
    public static let healthTimeout: ClosedRange<Duration> = .milliseconds(10)...hours(1)

    private static func hours(_ count: Int64) -> Duration { .seconds(count * 3600) }

    /// A duration in the config file's syntax, with the largest unit that states it exactly: `100ms`, `24h`.
    public static func text(_ duration: Duration) -> String {
        let nanoseconds = duration.nanoseconds
        if nanoseconds == 0 { return "0s" }
        let units: [(String, Int64)] = [
            ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000),
        ]
        for (suffix, size) in units where nanoseconds % size == 0 { return "\(nanoseconds / size)\(suffix)" }
        return "\(nanoseconds)ns"
    }

    /// "must be from 1s to 24h, got 1ns", or nil when `value` is in `range`.
    static func violation(_ value: Duration, of range: ClosedRange<Duration>) -> String? {
        range.contains(value)
            ? nil : "must be from \(text(range.lowerBound)) to \(text(range.upperBound)), got \(text(value))"
    }
}

import Testing

@testable import Agent

/// The sync log's `duration_ms` (issue 10, item 12): it took only the attoseconds of the duration, so a sync
/// of 1 s or more was logged short.
@Suite struct SyncLogTests {
    @Test(arguments: [
        (Duration.milliseconds(250), 250.0), (.seconds(1), 1000.0), (.milliseconds(2500), 2500.0),
        (.seconds(90), 90_000.0),
    ])
    func durationMillisecondsCountWholeSeconds(duration: Duration, expected: Double) {
        #expect(abs(duration.milliseconds - expected) < 1e-9)
    }
}

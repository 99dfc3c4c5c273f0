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

    /// `steps_ms` names each step with its milliseconds up to the next step's start (the last: up to the sync's
    /// end, seconds included), and leaves out steps under a millisecond.
    @Test func stepDurationsRunToTheNextStep() {
        let start = ContinuousClock.now
        let steps: [(step: String, started: ContinuousClock.Instant)] = [
            ("binding addresses", start),
            ("adding 3 services", start + .milliseconds(2)),
            ("applying changes", start + .microseconds(2_200)),
        ]
        let text = Agent.stepDurations(steps, until: start + .milliseconds(1_505))
        #expect(text == "binding addresses=2, applying changes=1503")
    }
}

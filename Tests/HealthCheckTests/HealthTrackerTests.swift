import HealthCheck
import ServiceTables
import Testing

@Suite("Rise/fall tracker")
struct HealthTrackerTests {
    static func tracker(rise: Int = 2, fall: Int = 3) -> HealthTracker {
        var checked = target(.tcp, "10.0.0.1", 80)
        checked.rise = rise
        checked.fall = fall
        return HealthTracker(target: checked, since: .seconds(5))
    }

    static let ok = ProbeResult.ok()
    static let refused = ProbeResult.failure("connection refused")

    @Test func startsUnknownAndMayServe() {
        let tracker = Self.tracker()
        #expect(tracker.status.state == .unknown)
        #expect(tracker.status.mayServe)
        #expect(tracker.status.since == .seconds(5))
    }

    @Test func firstSuccessConfirmsAFreshTarget() throws {
        var tracker = Self.tracker(rise: 5)
        let recorded = tracker.record(Self.ok, at: .seconds(6))
        let transition = try #require(recorded)
        #expect(transition.from == .unknown)
        #expect(transition.to == .up)
        #expect(transition.reason == "ok")
        #expect(tracker.status == HealthStatus(state: .up, lastResult: "ok", since: .seconds(6), consecutive: 1))
        #expect(transition.status == tracker.status)
    }

    @Test(arguments: 1...5)
    func fallConsecutiveFailuresTakeItDown(fall: Int) throws {
        var tracker = Self.tracker(fall: fall)
        _ = tracker.record(Self.ok, at: .seconds(1))
        for second in 1..<fall {
            let recorded = tracker.record(Self.refused, at: .seconds(1 + second))
            #expect(recorded == nil)
            #expect(tracker.status.state == .up)
            #expect(tracker.status.consecutive == second)
        }
        let recorded = tracker.record(Self.refused, at: .seconds(100))
        let transition = try #require(recorded)
        #expect((transition.from, transition.to) == (.up, .down))
        #expect(transition.reason == "connection refused")
        #expect(transition.at == .seconds(100))
        #expect(
            tracker.status
                == HealthStatus(state: .down, lastResult: "connection refused", since: .seconds(100), consecutive: fall)
        )
        #expect(!tracker.status.mayServe)
    }

    @Test func unknownGoesDownAfterFallFailures() {
        var tracker = Self.tracker(fall: 2)
        let recorded = tracker.record(Self.refused, at: .seconds(1))
        #expect(recorded == nil)
        #expect(tracker.status.state == .unknown)
        let second = tracker.record(Self.refused, at: .seconds(2))
        #expect(second?.to == .down)
    }

    @Test(arguments: 1...4)
    func riseConsecutiveSuccessesBringItBack(rise: Int) throws {
        var tracker = Self.tracker(rise: rise, fall: 1)
        _ = tracker.record(Self.refused, at: .seconds(1))
        #expect(tracker.status.state == .down)
        for second in 1..<rise {
            let recorded = tracker.record(Self.ok, at: .seconds(1 + second))
            #expect(recorded == nil)
            #expect(tracker.status.state == .down)
            #expect(tracker.status.consecutive == second)
        }
        let recorded = tracker.record(Self.ok, at: .seconds(50))
        let transition = try #require(recorded)
        #expect((transition.from, transition.to) == (.down, .up))
        #expect(tracker.status.since == .seconds(50))
    }

    @Test func aFailureResetsTheRiseCount() {
        var tracker = Self.tracker(rise: 3, fall: 1)
        _ = tracker.record(Self.refused, at: .seconds(1))
        _ = tracker.record(Self.ok, at: .seconds(2))
        _ = tracker.record(Self.ok, at: .seconds(3))
        _ = tracker.record(.failure("timeout"), at: .seconds(4))
        #expect(tracker.status.consecutive == 1)
        #expect(tracker.status.lastResult == "timeout")
        _ = tracker.record(Self.ok, at: .seconds(5))
        _ = tracker.record(Self.ok, at: .seconds(6))
        #expect(tracker.status.state == .down)
        let recorded = tracker.record(Self.ok, at: .seconds(7))
        #expect(recorded?.to == .up)
    }

    @Test func flappingNeverReachesFall() {
        var tracker = Self.tracker(fall: 3)
        for round in 0..<50 {
            let result = round.isMultiple(of: 2) ? Self.refused : Self.ok
            let transition = tracker.record(result, at: .seconds(round))
            #expect(transition == nil || transition?.to == .up)
            #expect(tracker.status.state != .down)
            #expect(tracker.status.consecutive == 1)
        }
        #expect(tracker.status.state == .up)
    }

    @Test func sinceOnlyMovesOnAChangeOfState() {
        var tracker = Self.tracker()
        _ = tracker.record(Self.ok, at: .seconds(10))
        _ = tracker.record(Self.ok, at: .seconds(11))
        _ = tracker.record(Self.refused, at: .seconds(12))
        #expect(tracker.status.since == .seconds(10))
        #expect(tracker.status.consecutive == 1)
    }
}

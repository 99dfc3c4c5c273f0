import IPVS
import ServiceTables
import Testing

@testable import HealthCheck

@Suite("Schedule: intervals, jitter, drift, skipped slots")
struct HealthScheduleTests {
    static func checked(port: UInt16 = 80, interval: Duration = .seconds(1), jitter: Double = 0) -> HealthTarget {
        var checked = target(.tcp, "10.0.0.1", port)
        checked.interval = interval
        checked.jitter = jitter
        return checked
    }

    /// Runs `rounds` checks of one target, each finishing before its next slot; the loop wakes `lateness`
    /// after each deadline. Returns the scheduled times.
    static func simulate(_ checked: HealthTarget, rounds: Int, lateness: Duration = .zero) -> [Duration] {
        var schedule = HealthSchedule()
        _ = schedule.setTargets([checked], now: .zero)
        var scheduled: [Duration] = []
        while scheduled.count < rounds, let deadline = schedule.nextDeadline() {
            for due in schedule.takeDue(at: deadline + lateness) {
                scheduled.append(due.scheduled)
                schedule.finished(due.target)
            }
        }
        return scheduled
    }

    @Test func firstChecksAreSpreadOverOneInterval() {
        var schedule = HealthSchedule()
        let targets = Set((1...1000).map { Self.checked(port: UInt16($0), interval: .seconds(2)) })
        let change = schedule.setTargets(targets, now: .seconds(10))
        #expect(change.added.count == 1000)
        let early = schedule.takeDue(at: .seconds(10) - .milliseconds(1))
        #expect(early.isEmpty)
        let due = schedule.takeDue(at: .seconds(12))
        #expect(due.count == 1000)
        #expect(due.allSatisfy { $0.scheduled >= .seconds(10) && $0.scheduled < .seconds(12) })
        // Spread, not bunched: both halves of the interval hold first checks.
        #expect(due.contains { $0.scheduled < .seconds(11) } && due.contains { $0.scheduled >= .seconds(11) })
    }

    @Test func changesTouchOnlyTheirTargetsAndKeepTheOthersSlots() {
        var schedule = HealthSchedule()
        let kept = Self.checked(port: 1, interval: .seconds(1))
        let gone = Self.checked(port: 2, interval: .seconds(1))
        let new = Self.checked(port: 3, interval: .seconds(1))
        _ = schedule.setTargets([kept, gone], now: .zero)
        let busy = schedule.takeDue(at: .seconds(1))
        #expect(Set(busy.map(\.target)) == [kept, gone])
        // Removing one not held and adding one already held are no-ops; the kept target stays busy.
        let change = schedule.changeTargets(
            adding: [kept, new],
            removing: [gone, Self.checked(port: 9)],
            now: .seconds(1)
        )
        #expect(change.added == [new])
        #expect(change.removed == [gone])
        #expect(schedule.contains(kept) && schedule.isBusy(kept))
        #expect(!schedule.contains(gone) && schedule.contains(new))
        #expect(schedule.count == 2)
    }

    @Test func withoutJitterTheIntervalIsExact() {
        let times = Self.simulate(Self.checked(interval: .milliseconds(1500)), rounds: 50)
        for (previous, next) in zip(times, times.dropFirst()) {
            #expect(next - previous == .milliseconds(1500))
        }
    }

    @Test(arguments: [0.1, 0.25, 0.5])
    func jitterStaysWithinBounds(jitter: Double) {
        let times = Self.simulate(Self.checked(interval: .seconds(1), jitter: jitter), rounds: 500)
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        let low = Duration.seconds(1) * (1 - jitter)
        let high = Duration.seconds(1) * (1 + jitter)
        #expect(gaps.allSatisfy { $0 >= low && $0 <= high })
        #expect(Set(gaps).count > 1, "jitter should vary the gaps")
    }

    @Test func jitterIsCappedAtHalfTheInterval() {
        let times = Self.simulate(Self.checked(interval: .seconds(1), jitter: 3), rounds: 200)
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        #expect(gaps.allSatisfy { $0 >= .milliseconds(500) && $0 <= .milliseconds(1500) })
    }

    @Test func lateWakeupsDoNotDrift() {
        // The loop always wakes 300 ms late; slots stay on first + k * interval.
        let times = Self.simulate(Self.checked(interval: .seconds(1)), rounds: 100, lateness: .milliseconds(300))
        for (k, time) in times.enumerated() {
            #expect(time == times[0] + .seconds(k))
        }
    }

    @Test func busyTargetSkipsSlotsAndStaysOnTheGrid() throws {
        var schedule = HealthSchedule()
        let checked = Self.checked(interval: .seconds(1))
        _ = schedule.setTargets([checked], now: .zero)
        let first = try #require(schedule.takeDue(at: .seconds(1)).first)
        for k in 1...3 {
            let deadline = try schedule.requiredNextDeadline()
            #expect(deadline == first.scheduled + .seconds(k))
            let due = schedule.takeDue(at: deadline)
            #expect(due.isEmpty, "slot \(k) runs while the check is busy")
        }
        #expect(schedule.skippedSlots == 3)
        schedule.finished(checked)
        let deadline = try schedule.requiredNextDeadline()
        let next = schedule.takeDue(at: deadline)
        #expect(next.map(\.scheduled) == [first.scheduled + .seconds(4)])
    }

    @Test func farBehindRunsOnceThenResumesTheGrid() throws {
        var schedule = HealthSchedule()
        let checked = Self.checked(interval: .seconds(1))
        _ = schedule.setTargets([checked], now: .zero)
        let first = try schedule.requiredNextDeadline()
        let due = schedule.takeDue(at: first + .milliseconds(10_500))
        #expect(due.count == 1)
        schedule.finished(checked)
        let next = schedule.nextDeadline()
        #expect(next == first + .seconds(11))
        #expect(schedule.skippedSlots == 10)
    }

    @Test func existingTargetsKeepTheirSlotAndRemovedOnesStop() throws {
        var schedule = HealthSchedule()
        let kept = Self.checked(port: 1)
        let dropped = Self.checked(port: 2)
        _ = schedule.setTargets([kept, dropped], now: .zero)
        let before = schedule.takeDue(at: .seconds(1)).map(\.scheduled).sorted()
        schedule.finished(kept)
        let change = schedule.setTargets([kept], now: .seconds(1))
        #expect(change.added.isEmpty)
        #expect(change.removed == [dropped])
        var seen: [HealthTarget] = []
        for _ in 0..<5 {
            let deadline = try schedule.requiredNextDeadline()
            for due in schedule.takeDue(at: deadline) {
                seen.append(due.target)
                schedule.finished(due.target)
            }
        }
        #expect(seen == Array(repeating: kept, count: 5))
        #expect(before.count == 2)
    }

    @Test func heapOrdersDeadlines() {
        var heap = DeadlineHeap<Int>()
        let deadlines = (0..<200).map { _ in Int.random(in: 0..<1000) }
        for (index, deadline) in deadlines.enumerated() { heap.insert(index, at: .milliseconds(deadline)) }
        var popped: [Duration] = []
        while let entry = heap.removeMin() { popped.append(entry.deadline) }
        #expect(popped == deadlines.sorted().map { .milliseconds($0) })
    }
}

extension HealthSchedule {
    /// The next deadline; a test failure when nothing is scheduled.
    mutating func requiredNextDeadline() throws -> Duration {
        let next = nextDeadline()
        return try #require(next)
    }
}

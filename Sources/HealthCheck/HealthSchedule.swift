import ServiceTables

/// When each target is checked next: pure and clock-free, so the rules are tested without waiting.
///
/// A target's next check is its previous *scheduled* time plus `interval * (1 + uniform(-jitter, jitter))`,
/// never "now plus interval", so a slow probe or a busy loop does not make the schedule drift. A slot that
/// comes due while the target's previous check is still running (or queued) is skipped, not piled up.
struct HealthSchedule {
    private struct Slot {
        var id: UInt64
        var busy = false
    }

    private struct Due {
        var id: UInt64
        var target: HealthTarget
    }

    private var slots: [HealthTarget: Slot] = [:]
    private var heap = DeadlineHeap<Due>()
    private var nextID: UInt64 = 0
    private var random: any RandomNumberGenerator

    /// Slots skipped because the previous check was still running, or the loop fell behind.
    private(set) var skippedSlots = 0

    init(random: any RandomNumberGenerator = SystemRandomNumberGenerator()) {
        self.random = random
    }

    var count: Int { slots.count }

    func contains(_ target: HealthTarget) -> Bool { slots[target] != nil }
    func isBusy(_ target: HealthTarget) -> Bool { slots[target]?.busy ?? false }

    /// Makes the schedule hold exactly `targets`; new ones get a first check spread over one interval.
    /// - Returns: the targets added and removed.
    mutating func setTargets(
        _ targets: Set<HealthTarget>,
        now: Duration
    ) -> (added: [HealthTarget], removed: [HealthTarget]) {
        changeTargets(adding: targets, removing: Set(slots.keys.filter { !targets.contains($0) }), now: now)
    }

    /// Adds `adding` (those not held yet) and removes `removing` (those held); O(change).
    /// - Returns: the targets actually added and removed.
    mutating func changeTargets(
        adding: Set<HealthTarget>,
        removing: Set<HealthTarget>,
        now: Duration
    ) -> (added: [HealthTarget], removed: [HealthTarget]) {
        let removed = removing.filter { slots[$0] != nil }.map { $0 }
        for target in removed { slots[target] = nil }
        var added: [HealthTarget] = []
        for target in adding where slots[target] == nil {
            nextID += 1
            slots[target] = Slot(id: nextID)
            // Spread first checks uniformly so thousands of new targets do not fire at once.
            let offset = Self.fraction(of: target.interval, Double.random(in: 0..<1, using: &random))
            heap.insert(Due(id: nextID, target: target), at: now + offset)
            added.append(target)
        }
        compactIfSparse()
        return (added, removed)
    }

    /// The earliest pending deadline, if any target is scheduled.
    mutating func nextDeadline() -> Duration? {
        dropStale()
        return heap.min?.deadline
    }

    /// Takes every target due at `now` with its scheduled time, marks it busy and schedules its next slot.
    mutating func takeDue(at now: Duration) -> [(target: HealthTarget, scheduled: Duration)] {
        var due: [(target: HealthTarget, scheduled: Duration)] = []
        while let top = heap.min, top.deadline <= now {
            heap.removeMin()
            guard slots[top.element.target]?.id == top.element.id else { continue }
            let target = top.element.target
            var next = top.deadline + jittered(target)
            // Far behind (a stalled process): skip the missed slots instead of a burst of catch-up checks.
            while next <= now {
                next += jittered(target)
                skippedSlots += 1
            }
            heap.insert(top.element, at: next)
            if slots[target]!.busy {
                skippedSlots += 1
            } else {
                slots[target]!.busy = true
                due.append((target, top.deadline))
            }
        }
        return due
    }

    /// Marks a target's check as finished, so its next slot runs.
    mutating func finished(_ target: HealthTarget) {
        slots[target]?.busy = false
    }

    private mutating func jittered(_ target: HealthTarget) -> Duration {
        let jitter = min(max(target.jitter, 0), 0.5)
        let factor = jitter > 0 ? 1 + Double.random(in: -jitter...jitter, using: &random) : 1
        // A zero interval would spin the loop; one millisecond is the floor.
        return max(Self.fraction(of: target.interval, factor), .milliseconds(1))
    }

    private static func fraction(of duration: Duration, _ factor: Double) -> Duration {
        duration * factor
    }

    private mutating func dropStale() {
        while let top = heap.min, slots[top.element.target]?.id != top.element.id {
            heap.removeMin()
        }
    }

    /// Removed targets leave stale heap entries; rebuild when they outnumber the live ones.
    private mutating func compactIfSparse() {
        guard heap.count > 2 * slots.count + 64 else { return }
        var live = DeadlineHeap<Due>()
        while let top = heap.removeMin() {
            if slots[top.element.target]?.id == top.element.id { live.insert(top.element, at: top.deadline) }
        }
        heap = live
    }
}

/// A max-heap of (count, pair) candidates for the next BPE merge.
///
/// Entries go stale as merges change counts; the trainer checks each popped
/// entry against the live count instead of updating the heap in place, which
/// keeps every merge's bookkeeping to a few pushes.
struct PairHeap {
    struct Entry {
        let count: Int
        /// `left << 32 | right`, as in `BPETrainer.pairKey`.
        let pair: UInt64

        /// Higher count first; among equal counts the pair with the lower ids,
        /// so training is deterministic.
        func precedes(_ other: Entry) -> Bool {
            count != other.count ? count > other.count : pair < other.pair
        }
    }

    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let last = entries.popLast() else { return nil }
        guard !entries.isEmpty else { return last }
        let top = entries[0]
        entries[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < entries.count, entries[left].precedes(entries[first]) { first = left }
            if right < entries.count, entries[right].precedes(entries[first]) { first = right }
            if first == parent { break }
            entries.swapAt(parent, first)
            parent = first
        }
        return top
    }
}

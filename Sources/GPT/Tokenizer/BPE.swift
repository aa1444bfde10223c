/// The BPE model: turns one pre-tokenized piece (raw bytes) into token ids by
/// applying merges, exactly as the `tokenizers` library's BPE model does.
///
/// The library does not merge "every occurrence of the best pair" as the
/// original GPT-2 code does; it repeatedly merges the single adjacent pair
/// with the lowest (rank, position), using a heap and skipping stale entries.
/// The two differ only for unusual merge tables, but this mirrors the library.
struct BPE: Sendable {
    /// One merge: the pair's rank (its position in the merge list) and the
    /// id of the token it makes.
    struct Merge: Sendable {
        let rank: UInt32
        let result: Int32
    }

    /// The id of the single-byte token for each byte value.
    let byteTokenIDs: [Int32]
    /// Merges by pair of ids, packed as `left << 32 | right`.
    let merges: [UInt64: Merge]
    /// Set when `ignore_merges` is on: every vocab token by its bytes, so that
    /// a piece that is a whole token skips merging, as in the library.
    let wholeTokenIDs: [[UInt8]: Int32]?

    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Appends the ids of `piece` to `ids`. `workspace` only saves allocations
    /// between calls.
    func encode(_ piece: UnsafeBufferPointer<UInt8>, into ids: inout [Int], workspace: inout Workspace) {
        if piece.count == 1 {
            ids.append(Int(byteTokenIDs[Int(piece[0])]))
            return
        }
        if let wholeTokenIDs, let id = wholeTokenIDs[Array(piece)] {
            ids.append(Int(id))
            return
        }
        workspace.load(piece, byteTokenIDs: byteTokenIDs)
        for position in 0..<piece.count - 1 {
            pushMerge(at: position, workspace: &workspace)
        }
        while let entry = workspace.heap.popMin() {
            apply(entry, workspace: &workspace)
        }
        var position = 0
        while position < piece.count {
            ids.append(Int(workspace.symbols[position]))
            position = Int(workspace.next[position])
        }
    }

    /// Merges the pair `entry` names if it is still there; an entry goes
    /// stale when a neighbouring merge has changed its pair.
    private func apply(_ entry: Workspace.Entry, workspace: inout Workspace) {
        let position = entry.position
        guard workspace.symbols[position] >= 0 else { return }
        let right = Int(workspace.next[position])
        guard right < workspace.count else { return }
        let pair = BPE.pairKey(workspace.symbols[position], workspace.symbols[right])
        guard let merge = merges[pair], merge.result == entry.result else { return }

        workspace.symbols[position] = entry.result
        workspace.symbols[right] = Workspace.removed
        let after = workspace.next[right]
        workspace.next[position] = after
        if Int(after) < workspace.count { workspace.previous[Int(after)] = Int32(position) }

        let before = workspace.previous[position]
        if before >= 0 { pushMerge(at: Int(before), workspace: &workspace) }
        if Int(after) < workspace.count { pushMerge(at: position, workspace: &workspace) }
    }

    /// Queues the pair starting at `position` if a merge exists for it.
    private func pushMerge(at position: Int, workspace: inout Workspace) {
        let right = Int(workspace.next[position])
        let pair = BPE.pairKey(workspace.symbols[position], workspace.symbols[right])
        guard let merge = merges[pair] else { return }
        workspace.heap.push(Workspace.Entry(rank: merge.rank, position: position, result: merge.result))
    }

    /// The symbols of the piece being merged, as a linked list over the
    /// piece's byte positions: a merge keeps the left position and removes
    /// the right one, so position 0 always starts the list.
    struct Workspace {
        static let removed: Int32 = -1

        struct Entry {
            /// Orders entries by rank, then by position, like the library's heap.
            let key: UInt64
            let result: Int32

            init(rank: UInt32, position: Int, result: Int32) {
                key = UInt64(rank) << 32 | UInt64(position)
                self.result = result
            }

            var position: Int { Int(key & 0xFFFF_FFFF) }
        }

        private(set) var count = 0
        var symbols: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var heap = MinHeap()

        mutating func load(_ piece: UnsafeBufferPointer<UInt8>, byteTokenIDs: [Int32]) {
            count = piece.count
            symbols.removeAll(keepingCapacity: true)
            previous.removeAll(keepingCapacity: true)
            next.removeAll(keepingCapacity: true)
            heap.removeAll()
            for (position, byte) in piece.enumerated() {
                symbols.append(byteTokenIDs[Int(byte)])
                previous.append(Int32(position - 1))
                next.append(Int32(position + 1))
            }
        }
    }

    /// A binary min-heap of merge entries by key.
    struct MinHeap {
        private var entries: [Workspace.Entry] = []

        mutating func removeAll() {
            entries.removeAll(keepingCapacity: true)
        }

        mutating func push(_ entry: Workspace.Entry) {
            entries.append(entry)
            var child = entries.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                if entries[parent].key <= entry.key { break }
                entries[child] = entries[parent]
                child = parent
            }
            entries[child] = entry
        }

        mutating func popMin() -> Workspace.Entry? {
            guard let last = entries.popLast() else { return nil }
            guard let top = entries.first else { return last }
            // Sift the former last entry down from the root.
            var parent = 0
            while true {
                var child = 2 * parent + 1
                if child >= entries.count { break }
                if child + 1 < entries.count, entries[child + 1].key < entries[child].key { child += 1 }
                if last.key <= entries[child].key { break }
                entries[parent] = entries[child]
                parent = child
            }
            entries[parent] = last
            return top
        }
    }
}

extension BPE {
    /// Builds the lookup tables for a checked definition.
    init(_ definition: TokenizerDefinition) {
        byteTokenIDs = ByteLevel.scalarForByte.map { definition.vocab[String($0)]! }
        var merges = [UInt64: Merge](minimumCapacity: definition.merges.count)
        for (rank, merge) in definition.merges.enumerated() {
            // A repeated pair keeps its last rank, as in the library.
            merges[BPE.pairKey(merge.left, merge.right)] = Merge(rank: UInt32(rank), result: merge.result)
        }
        self.merges = merges
        if definition.ignoreMerges {
            var whole = [[UInt8]: Int32](minimumCapacity: definition.vocab.count)
            for (token, id) in definition.vocab {
                if let bytes = ByteLevel.bytes(ofToken: token) { whole[bytes] = id }
            }
            wholeTokenIDs = whole
        } else {
            wholeTokenIDs = nil
        }
    }
}

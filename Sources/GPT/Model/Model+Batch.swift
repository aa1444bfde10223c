extension Model {
    /// Most sequences one batched decode step takes (the few-token kernels'
    /// limit: beyond it the products would go to sgemm and round differently).
    public static var maxBatch: Int { fewTokens }

    /// One decode step for several sequences at once: `tokens[b]` goes to
    /// the next position of `states[b]`. Each weight matrix is read once for
    /// the whole batch, which is what decode pays for, so B sequences cost
    /// little more than one. Returns each sequence's logits (V), bit for bit
    /// those of `forward([tokens[b]], state: states[b])`: every product row
    /// and every attention head is computed by the same code either way.
    public func forward(batch tokens: [Int], states: [RunState]) -> [[Float]] {
        let (B, V) = (tokens.count, config.vocabularySize)
        precondition(B >= 1 && B <= Self.maxBatch, "a batch holds 1...\(Self.maxBatch) sequences")
        precondition(states.count == B, "one state per token")
        precondition(Set(states.map(ObjectIdentifier.init)).count == B, "each sequence at most once per batch")
        precondition(states.allSatisfy { $0.length < $0.capacity }, "every sequence needs room for one more position")
        precondition(tokens.allSatisfy { $0 >= 0 && $0 < V }, "token ids must be in 0..<\(V)")
        let positions = states.map(\.length)
        let scratch = RunState.Scratch(config: config, tokens: B, keys: positions.max()! + 1, workers: pool.threads)
        let logits = pass(tokens, states: states, positions: positions, scratch: scratch, logitRows: Array(0..<B))
        for state in states { state.length += 1 }
        return (0..<B).map { Array(logits[$0 * V ..< ($0 + 1) * V]) }
    }

    /// One pass over several sequences' runs of tokens: `segments[i].tokens`
    /// go to the next positions of `segments[i].state`, as
    /// `forward(segments[i].tokens, state: segments[i].state)` would, and the
    /// caches advance likewise. Each weight matrix is read once for all rows,
    /// and attention is computed per segment, so several window passes (when
    /// generations' windows slide in the same turn) cost about one pass over
    /// as many rows. Returns each segment's last-token logits (V): those of
    /// each segment alone up to float rounding (sgemm rounds a row of a taller
    /// matrix differently), and bit for bit when the pass holds at most
    /// `fewTokens` rows (each row then goes through the same kernels as alone).
    public func forward(segments: [(tokens: [Int], state: RunState)]) -> [[Float]] {
        let V = config.vocabularySize
        precondition(!segments.isEmpty && segments.allSatisfy { !$0.tokens.isEmpty }, "every segment needs a token")
        precondition(Set(segments.map { ObjectIdentifier($0.state) }).count == segments.count,
                     "each sequence at most once per pass")
        precondition(segments.allSatisfy { $0.state.length + $0.tokens.count <= $0.state.capacity },
                     "every segment must fit its cache")
        precondition(segments.allSatisfy { $0.tokens.allSatisfy { $0 >= 0 && $0 < V } }, "token ids must be in 0..<\(V)")
        var tokens: [Int] = [], states: [RunState] = [], positions: [Int] = [], lastRows: [Int] = []
        for segment in segments {
            let start = segment.state.length
            tokens += segment.tokens
            states += Array(repeating: segment.state, count: segment.tokens.count)
            positions += Array(start ..< start + segment.tokens.count)
            lastRows.append(tokens.count - 1)
        }
        let scratch = RunState.Scratch(config: config, tokens: tokens.count, keys: positions.max()! + 1, workers: pool.threads)
        let logits = pass(tokens, states: states, positions: positions, scratch: scratch, logitRows: lastRows)
        for segment in segments { segment.state.length += segment.tokens.count }
        return (0..<segments.count).map { Array(logits[$0 * V ..< ($0 + 1) * V]) }
    }

    /// The runs of consecutive rows that belong to one sequence at consecutive positions.
    static func segments(states: [RunState], positions: [Int]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start = 0
        for r in 1...states.count where r == states.count || states[r] !== states[r - 1] || positions[r] != positions[r - 1] + 1 {
            runs.append(start..<r)
            start = r
        }
        return runs
    }
}

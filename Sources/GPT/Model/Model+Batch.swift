extension Model {
    /// One decode step for several sequences at once: `tokens[b]` goes to
    /// the next position of `states[b]` (`forward(segments:)` with one token
    /// each). Each weight matrix is read once for the whole batch, which is
    /// what decode pays for, so B sequences cost little more than one.
    /// Returns each sequence's logits (V), bit for bit those of
    /// `forward([tokens[b]], state: states[b])`.
    public func forward(batch tokens: [Int], states: [RunState]) -> [[Float]] {
        precondition(tokens.count == states.count, "one state per token")
        return forward(segments: zip(tokens, states).map { ([$0], $1, .last) }).map { $0! }
    }

    /// Which logits a segment of a multi-sequence pass returns.
    public enum SegmentLogits: Sendable {
        case none
        /// Its last token's (V): what predicts the next token.
        case last
        /// Every token's (T, V): what scores a text.
        case all
    }

    /// One pass over several sequences' runs of tokens: `segments[i].tokens`
    /// go to the next positions of `segments[i].state`, as
    /// `forward(segments[i].tokens, state: segments[i].state)` would, and the
    /// caches advance likewise. Decode steps (one token), prompt chunks and
    /// whole windows may share a pass: each tile of a weight matrix is then
    /// read from memory once for all of them. No kernel's result for a row
    /// depends on the other rows, so each segment's results are bit for bit
    /// those of its pass alone. Returns each segment's logits as its
    /// `logits` asks, or nil for `.none`.
    public func forward(segments: [(tokens: [Int], state: RunState, logits: SegmentLogits)]) -> [[Float]?] {
        let V = config.vocabularySize
        precondition(!segments.isEmpty && segments.allSatisfy { !$0.tokens.isEmpty }, "every segment needs a token")
        precondition(Set(segments.map { ObjectIdentifier($0.state) }).count == segments.count,
                     "each sequence at most once per pass")
        precondition(segments.allSatisfy { $0.state.length + $0.tokens.count <= $0.state.capacity },
                     "every segment must fit its cache")
        precondition(segments.allSatisfy { $0.tokens.allSatisfy { $0 >= 0 && $0 < V } }, "token ids must be in 0..<\(V)")
        var tokens: [Int] = [], states: [RunState] = [], positions: [Int] = [], logitRows: [Int] = []
        for segment in segments {
            let start = segment.state.length
            tokens += segment.tokens
            states += Array(repeating: segment.state, count: segment.tokens.count)
            positions += Array(start ..< start + segment.tokens.count)
            switch segment.logits {
            case .none: break
            case .last: logitRows.append(tokens.count - 1)
            case .all: logitRows += Array(tokens.count - segment.tokens.count ..< tokens.count)
            }
        }
        let shortRows = segments.filter { $0.tokens.count == 1 }.count
        let scratch = RunState.Scratch(config: config, tokens: tokens.count, shortRows: shortRows, keys: positions.max()! + 1)
        let logits = pass(tokens, states: states, positions: positions, scratch: scratch, logitRows: logitRows)
        for segment in segments { segment.state.length += segment.tokens.count }
        var next = 0  // the first logit row not handed out yet
        return segments.map { segment in
            let rows = switch segment.logits {
            case .none: 0
            case .last: 1
            case .all: segment.tokens.count
            }
            guard rows > 0 else { return nil }
            defer { next += rows }
            return Array(logits[next * V ..< (next + rows) * V])
        }
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

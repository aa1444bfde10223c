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
        let logits = pass(tokens, states: states, positions: positions, scratch: scratch, logitsFrom: 0)
        for state in states { state.length += 1 }
        return (0..<B).map { Array(logits[$0 * V ..< ($0 + 1) * V]) }
    }
}

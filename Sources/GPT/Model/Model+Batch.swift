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
        let (B, C, V, NH) = (tokens.count, config.channels, config.vocabularySize, config.heads)
        precondition(B >= 1 && B <= Self.maxBatch, "a batch holds 1...\(Self.maxBatch) sequences")
        precondition(states.count == B, "one state per token")
        precondition(Set(states.map(ObjectIdentifier.init)).count == B, "each sequence at most once per batch")
        precondition(states.allSatisfy { $0.length < $0.capacity }, "every sequence needs room for one more position")
        precondition(tokens.allSatisfy { $0 >= 0 && $0 < V }, "token ids must be in 0..<\(V)")
        let positions = states.map(\.length)
        let visible = positions.max()! + 1
        // Activations of the batch, one row per sequence; attention scores per (sequence, head).
        let s = RunState.Scratch(config: config, tokens: B, keys: visible)
        let w = weights

        for (b, token) in tokens.enumerated() {
            let row = s.x + b * C
            row.update(from: w[.wte] + token * C, count: C)
            Kernels.add(row, w[.wpe] + positions[b] * C, count: C)
        }
        for l in 0..<config.layers {
            Kernels.layerNorm(s.normed, s.x, w.layer(l, .ln1w), w.layer(l, .ln1b), T: B, C: C)
            linear(s.qkv, s.normed, w.layer(l, .qkvw), w.layer(l, .qkvb), T: B, IC: C, OC: 3 * C)
            for b in 0..<B {
                (states[b].keys(layer: l) + positions[b] * C).update(from: s.qkv + b * 3 * C + C, count: C)
                (states[b].values(layer: l) + positions[b] * C).update(from: s.qkv + b * 3 * C + 2 * C, count: C)
            }
            pool.forEachChunk(B * NH) { k in
                let (b, h) = k.quotientAndRemainder(dividingBy: NH)
                Kernels.attendOneToken(s.attended + b * C, query: s.qkv + b * 3 * C,
                                       keys: states[b].keys(layer: l), values: states[b].values(layer: l),
                                       scores: s.scores + k * visible, N: positions[b] + 1, C: C, NH: NH, head: h)
            }
            linear(s.projected, s.attended, w.layer(l, .attprojw), w.layer(l, .attprojb), T: B, IC: C, OC: C)
            Kernels.add(s.x, s.projected, count: B * C)
            Kernels.layerNorm(s.normed, s.x, w.layer(l, .ln2w), w.layer(l, .ln2b), T: B, C: C)
            linear(s.hidden, s.normed, w.layer(l, .fcw), w.layer(l, .fcb), T: B, IC: C, OC: 4 * C)
            // Row by row, as a single sequence's pass splits it into vector lanes and a tail.
            for b in 0..<B { Kernels.gelu(s.hidden + b * 4 * C, count: 4 * C) }
            linear(s.projected, s.hidden, w.layer(l, .fcprojw), w.layer(l, .fcprojb), T: B, IC: 4 * C, OC: C)
            Kernels.add(s.x, s.projected, count: B * C)
        }
        for state in states { state.length += 1 }

        Kernels.layerNorm(s.normed, s.x, w[.lnfw], w[.lnfb], T: B, C: C)
        let logits = [Float](unsafeUninitializedCapacity: B * V) { buffer, count in
            linear(buffer.baseAddress!, s.normed, w[.wte], nil, T: B, IC: C, OC: V)
            count = B * V
        }
        return (0..<B).map { Array(logits[$0 * V ..< ($0 + 1) * V]) }
    }
}

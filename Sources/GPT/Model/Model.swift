import CKernels
import ModelFiles

/// GPT-2: the forward pass over weights that never change.
///
/// One pass handles any number of new tokens: a whole prompt (prefill) or a
/// single token (decode). Their keys and values are appended to the sequence's
/// `RunState`, so later passes attend to them without recomputing. Decode
/// steps of several sequences can share one pass (Model+Batch.swift).
public final class Model: Sendable {
    public let config: GPTConfig
    public let weights: Weights
    /// Runs the loops of short passes: decode steps, batches of them, short prompts.
    let pool: WorkerPool

    public convenience init(weights: Weights) { self.init(weights: weights, pool: .shared) }

    package init(weights: Weights, pool: WorkerPool) {
        self.config = weights.config
        self.weights = weights
        self.pool = pool
    }

    public convenience init(checkpoint: Checkpoint) { self.init(weights: checkpoint.weights) }

    /// A fresh sequence whose cache holds `capacity` positions (default: the whole context).
    public func makeState(capacity: Int? = nil) -> RunState {
        RunState(config: config, capacity: capacity ?? config.maxT)
    }

    /// Runs `tokens` at positions state.length ..< state.length + T and appends them to the cache.
    ///
    /// Returns the logits (V) of the last token, or of every token (T, V) when
    /// `allPositions` is set. Token ids must be below V and the cache must have room.
    public func forward(_ tokens: [Int], state: RunState, allPositions: Bool = false) -> [Float] {
        let (T, V) = (tokens.count, config.vocabularySize)
        let start = state.length
        precondition(T >= 1, "forward needs at least one token")
        precondition(start + T <= state.capacity, "the sequence does not fit the cache (\(start + T) > \(state.capacity))")
        precondition(tokens.allSatisfy { $0 >= 0 && $0 < V }, "token ids must be in 0..<\(V)")
        let logits = pass(tokens, states: Array(repeating: state, count: T), positions: Array(start..<start + T),
                          scratch: state.scratch(tokens: T),
                          logitRows: allPositions ? Array(0..<T) : [T - 1])
        state.length = start + T
        return logits
    }

    /// The forward pass over rows that each put `tokens[r]` at `positions[r]`
    /// of `states[r]`: the tokens of one sequence (a prompt), one token each
    /// of several sequences (a batch), or consecutive runs of several
    /// sequences (segments, Model+Batch.swift). Writes every row's keys and
    /// values into its cache (lengths are the caller's to advance) and
    /// returns the logits of `logitRows`, in their order (count, V).
    func pass(_ tokens: [Int], states: [RunState], positions: [Int], scratch s: RunState.Scratch,
              logitRows: [Int]) -> [Float] {
        let (T, C, V, NH) = (tokens.count, config.channels, config.vocabularySize, config.heads)
        let visible = positions.max()! + 1  // keys the furthest row attends to: each row's scores get this much room
        let w = weights

        // x = wte[token] + wpe[position]
        for (t, token) in tokens.enumerated() {
            let row = s.x + t * C
            embedding(row, w.stored(.wte), row: token)
            embedding(s.projected, w.stored(.wpe), row: positions[t])
            Kernels.add(row, s.projected, count: C)
        }

        // Runs of rows of one sequence. Each attends to its own cache, and no
        // kernel's result for a row depends on the other rows, so a sequence
        // gets the same bits whatever else shares the pass.
        let segments = Self.segments(states: states, positions: positions)
        let shortRows = segments.filter(Self.isStep).flatMap { $0 }
        precondition(T <= s.tokens && shortRows.count <= s.shortRows && visible <= s.keys, "the scratch is too small for the pass")
        for l in 0..<config.layers {
            // x += attproj(attention(LN1(x)))
            layerNorm(s, w.layer(l, .ln1w), w.layer(l, .ln1b), rows: T)
            linear(s.qkv, s.normed, w.stored(.qkvw, layer: l), w.layer(l, .qkvb), IC: C, OC: 3 * C, segments: segments,
                   scratch: s)
            for t in 0..<T {
                states[t].keys(layer: l).store(s.qkv + t * 3 * C + C, at: positions[t], heads: NH, hs: C / NH)
                states[t].values(layer: l).store(s.qkv + t * 3 * C + 2 * C, at: positions[t], heads: NH, hs: C / NH)
            }
            // Rows of short segments: one chunk per (row, head), each with scores of its own.
            pool.forEachChunk(shortRows.count * NH) { k in
                let (i, h) = k.quotientAndRemainder(dividingBy: NH)
                let t = shortRows[i]
                Kernels.attendOneToken(s.attended + t * C, query: s.qkv + t * 3 * C,
                                       keys: states[t].keys(layer: l), values: states[t].values(layer: l),
                                       scores: s.scores + k * visible, N: positions[t] + 1, C: C, NH: NH, head: h)
            }
            for rows in segments where !Self.isStep(rows) {
                let a = rows.lowerBound
                Kernels.attention(s.attended + a * C, s.qkv + a * 3 * C, keys: states[a].keys(layer: l),
                                  values: states[a].values(layer: l), start: positions[a],
                                  T: rows.count, C: C, NH: NH, pool: pool)
            }
            linear(s.projected, s.attended, w.stored(.attprojw, layer: l), w.layer(l, .attprojb), IC: C, OC: C,
                   segments: segments, scratch: s)
            Kernels.add(s.x, s.projected, count: T * C)
            // x += fcproj(gelu(fc(LN2(x))))
            layerNorm(s, w.layer(l, .ln2w), w.layer(l, .ln2b), rows: T)
            linear(s.hidden, s.normed, w.stored(.fcw, layer: l), w.layer(l, .fcb), IC: C, OC: 4 * C, segments: segments,
                   scratch: s)
            // Row by row, so that a row's vector lanes and scalar tail fall alike
            // whether it runs alone or among others.
            forRows(T) { rows in for t in rows { Kernels.gelu(s.hidden + t * 4 * C, count: 4 * C) } }
            linear(s.projected, s.hidden, w.stored(.fcprojw, layer: l), w.layer(l, .fcprojb), IC: 4 * C, OC: C,
                   segments: segments, scratch: s)
            Kernels.add(s.x, s.projected, count: T * C)
        }

        // Only the rows whose logits are wanted go through LN_f and the (V, C)
        // product, gathered in order (in place: i <= r, rows ascending), in
        // segments as they came: a segment's last row alone, or a whole one.
        var logitSegments: [Range<Int>] = []
        for (i, r) in logitRows.enumerated() {
            if i != r { (s.x + i * C).update(from: s.x + r * C, count: C) }
            if i > 0, r == logitRows[i - 1] + 1, segments.contains(where: { $0.contains(r) && $0.contains(r - 1) }) {
                logitSegments[logitSegments.count - 1] = logitSegments[logitSegments.count - 1].lowerBound ..< i + 1
            } else {
                logitSegments.append(i ..< i + 1)
            }
        }
        let rows = logitRows.count
        layerNorm(s, w[.lnfw], w[.lnfb], rows: rows)
        return [Float](unsafeUninitializedCapacity: rows * V) { logits, count in
            linear(logits.baseAddress!, s.normed, w.logitMatrix, nil, IC: C, OC: V, segments: logitSegments, scratch: s)
            count = rows * V
        }
    }

    /// s.normed = LayerNorm(s.x) for rows 0..<T, through ``forRows(_:_:)``.
    private func layerNorm(_ s: RunState.Scratch, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                           rows T: Int) {
        let C = config.channels
        forRows(T) {
            Kernels.layerNorm(s.normed + $0.lowerBound * C, s.x + $0.lowerBound * C, weight, bias, T: $0.count, C: C)
        }
    }

    /// `body` over ranges of rows 0..<T: on the pool for a long pass (its
    /// LayerNorms and GELU were a serial few percent of a 2-thread prompt),
    /// in one call for a few rows. Each row's result depends on that row alone.
    private func forRows(_ T: Int, _ body: (Range<Int>) -> Void) {
        if T >= 16 {
            pool.forEachRange(T, grain: 8, body)
        } else {
            body(0..<T)
        }
    }

    /// Whether a segment's rows go through the row kernels (a segment of one
    /// row: a decode step, or a one-token window) rather than the gemm. By
    /// kind, not by a length threshold: every row of a longer pass takes the
    /// gemm path, whose results do not depend on the other rows, so a window
    /// pass gives the same bits in one piece or cut into any pieces of two
    /// rows or more (`TokenGenerator.windowPiece(remaining:limit:)`).
    static func isStep(_ segment: Range<Int>) -> Bool { segment.count == 1 }

    /// out (T, OC) = inp (T, IC) · weight (OC, IC)ᵀ + bias, on the worker pool,
    /// with the weights in their stored type, for rows in `segments`: rows of
    /// longer segments through the packed gemm (compute-bound; weights
    /// widened to f32 as they are packed); the rows of one-row segments
    /// (decode steps) through CKernels' row products, bound by reading the
    /// weights, so they read them
    /// as stored (half the bytes for 16-bit types, about a quarter for q8_0),
    /// and give a row the same bits whatever the other rows are.
    private func linear(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                        _ weight: StoredTensor, _ bias: UnsafePointer<Float>?, IC: Int, OC: Int,
                        segments: [Range<Int>], scratch: RunState.Scratch) {
        // Runs of consecutive steps, each one call of the row kernels.
        var runs: [Range<Int>] = []
        for segment in segments where Self.isStep(segment) {
            if let last = runs.last, last.upperBound == segment.lowerBound {
                runs[runs.count - 1] = last.lowerBound ..< segment.upperBound
            } else {
                runs.append(segment)
            }
        }
        // The steps' inputs: their rows, or for q8_0 and q4_0 weights those rows rounded to integers.
        precondition(!weight.type.isBlockType || weight.interleaved, "q8_0 and q4_0 matrices are read interleaved")
        let rowBytes = gpt_quantized_activation_bytes(weight.kernelType, Int32(IC))
        func input(_ run: Range<Int>) -> UnsafeRawPointer {
            guard weight.type.isBlockType else { return UnsafeRawPointer(inp + run.lowerBound * IC) }
            let quantized = scratch.quantized + run.lowerBound * rowBytes
            gpt_quantize_activations(weight.kernelType, inp + run.lowerBound * IC, quantized, Int32(run.count), Int32(IC))
            return UnsafeRawPointer(quantized)
        }
        // The chunks read the runs from a buffer: iterating arrays in every
        // chunk retained and released them, from both threads at once (about
        // 2% of a 4-client decode of the 124M shape).
        let stepRuns = UnsafeMutableBufferPointer<(rows: Range<Int>, input: UnsafeRawPointer)>.allocate(capacity: runs.count)
        defer { stepRuns.deallocate() }
        _ = stepRuns.initialize(from: runs.lazy.map { ($0, input($0)) })
        func steps(_ rows: Range<Int>) {
            for (run, input) in stepRuns {
                gpt_matmul_rows(weight.kernelType, out + run.lowerBound * OC, input, weight.data, bias,
                                Int32(run.count), Int32(IC), Int32(OC), Int32(rows.lowerBound), Int32(rows.upperBound))
            }
        }

        let long = segments.filter { !Self.isStep($0) }
        guard !long.isEmpty else {
            // Chunks of about 32K multiply-adds of float weights (a few
            // microseconds of reading: claims cost little, and even the bundled
            // model's small matrices split for two threads; 128K made its
            // 2-thread decode 25-35% slower), 128K of q8_0 and q4_0 (integer
            // products are cheapest: at 32K, q4_0's 2-thread decode lost 10-20%
            // to claims and waits).
            let T = runs.map(\.count).reduce(0, +)
            // Interleaved rows are computed a group of 8 at a time, float rows
            // 4 (or 2) at a time: chunks hold whole groups.
            let unit = weight.interleaved ? 8 : 4
            let grain = max(4, (weight.interleaved ? 1 << 17 : 1 << 15) / (IC * max(1, T)))
            pool.forEachTaperedRange((OC + unit - 1) / unit, grain: max(1, (grain + unit - 1) / unit)) {
                steps($0.lowerBound * unit ..< min(OC, $0.upperBound * unit))
            }
            return
        }
        let (packed, workspace) = scratch.gemmBuffers(packedFloats: PackedRows.floats(segments: long, K: IC),
                                                      workers: pool.threads)
        let rows = PackedRows(inp, K: IC, segments: long, into: packed, pool: pool)
        // Each tile of weight rows serves the steps and then the gemm, which
        // finds those rows still in cache: the turn reads the weights from
        // memory once, not once for each.
        let tiles = Array(stride(from: 0, to: OC, by: PackedRows.tileColumns))
        pool.forEachChunk(tiles.count) { k, worker in
            let columns = tiles[k] ..< min(OC, tiles[k] + PackedRows.tileColumns)
            steps(columns)
            if let bias {  // the gemm adds to it
                for segment in long {
                    for t in segment {
                        (out + t * OC + columns.lowerBound).update(from: bias + columns.lowerBound, count: columns.count)
                    }
                }
            }
            rows.multiply(weight, columns: columns, into: out, N: OC, accumulate: bias != nil,
                          workspace: workspace + worker * gpt_gemm_scratch_floats())
        }
    }

    /// out (C) = row `r` of an embedding table, widened to f32.
    private func embedding(_ out: UnsafeMutablePointer<Float>, _ table: StoredTensor, row r: Int) {
        let C = config.channels
        gpt_widen_rows(table.kernelType, table.data, out, Int32(C), Int32(r), Int32(r + 1))
    }
}

import CKernels

/// The state of one sequence: its KV cache and the activations of a forward pass.
///
/// Not shared between threads: each generation owns one. Scratch buffers grow
/// to the longest pass seen, so a short conversation stays small.
public final class RunState {
    public let config: GPTConfig
    /// Positions the cache can hold (at most maxT).
    public let capacity: Int
    /// Positions currently in the cache.
    public internal(set) var length = 0

    // (L, NH, capacity, hs): each head's rows side by side, so that a step's
    // attention reads a head's keys and values as two sequential runs (rows
    // of all heads, (capacity, C), put a head's 256 bytes a row 3 kB apart on
    // the 124M shape: a new page every row, which the prefetchers do not follow).
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    private(set) var scratch: Scratch

    public init(config: GPTConfig, capacity: Int) {
        precondition(capacity >= 1 && capacity <= config.maxT, "capacity must be in 1...maxT")
        self.config = config
        self.capacity = capacity
        let cacheSize = config.layers * capacity * config.channels
        keys = .allocate(capacity: cacheSize)
        values = .allocate(capacity: cacheSize)
        scratch = Scratch(config: config, tokens: 1, shortRows: 1, keys: capacity)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Forgets the cached positions (the window slid, or a new prompt starts).
    public func reset() { length = 0 }

    /// Layer `l`'s cached keys and values.
    func keys(layer l: Int) -> CacheRows { rows(keys, layer: l) }
    func values(layer l: Int) -> CacheRows { rows(values, layer: l) }

    private func rows(_ cache: UnsafeMutablePointer<Float>, layer l: Int) -> CacheRows {
        let hs = config.channels / config.heads
        return CacheRows(base: cache + l * capacity * config.channels, headStride: capacity * hs, rowStride: hs)
    }

    /// Scratch for a pass of T tokens.
    func scratch(tokens T: Int) -> Scratch {
        let shortRows = T == 1 ? 1 : 0
        if scratch.tokens < T || scratch.shortRows < shortRows {
            scratch = Scratch(config: config, tokens: max(T, scratch.tokens), shortRows: max(shortRows, scratch.shortRows),
                              keys: capacity)
        }
        return scratch
    }

    /// Activations of one pass of up to `tokens` tokens, of which up to
    /// `shortRows` in short segments, attending to up to `keys` positions.
    final class Scratch {
        let tokens: Int
        let shortRows: Int
        let keys: Int
        let x: UnsafeMutablePointer<Float>       // (T, C) residual stream
        let normed: UnsafeMutablePointer<Float>  // (T, C) LayerNorm output
        let qkv: UnsafeMutablePointer<Float>     // (T, 3C)
        let attended: UnsafeMutablePointer<Float>  // (T, C) attention output before projection
        let projected: UnsafeMutablePointer<Float> // (T, C) output of a projection, added to x
        let hidden: UnsafeMutablePointer<Float>  // (T, 4C) MLP hidden layer
        // Attention weights over `keys` positions of each (row, head) pair of
        // the steps (longer segments' attention has buffers of its own).
        let scores: UnsafeMutablePointer<Float>
        /// The input of a product with q8_0 or q4_0 weights, rounded to integers per block of 32
        /// (`gpt_quantize_activations`): (T, 4C / 32) blocks.
        let quantized: UnsafeMutableRawPointer
        /// The rows of a product's longer segments packed for the gemm, and
        /// each worker's gemm workspace: grown on demand (decode never needs them).
        private var packed: UnsafeMutablePointer<Float>?
        private var packedFloats = 0
        private var gemmWorkspace: UnsafeMutablePointer<Float>?
        private var gemmWorkers = 0

        init(config: GPTConfig, tokens T: Int, shortRows: Int, keys: Int) {
            let C = config.channels
            tokens = T
            self.shortRows = shortRows
            self.keys = keys
            x = .allocate(capacity: T * C)
            normed = .allocate(capacity: T * C)
            qkv = .allocate(capacity: T * 3 * C)
            attended = .allocate(capacity: T * C)
            projected = .allocate(capacity: T * C)
            hidden = .allocate(capacity: T * 4 * C)
            scores = .allocate(capacity: max(1, shortRows * config.heads * keys))
            // Room for the larger of the two formats (16-bit, for q8_0).
            quantized = .allocate(byteCount: T * max(1, gpt_quantized_activation_bytes(GPT_TYPE_Q8_0_X8, Int32(4 * C))), alignment: 64)
        }

        /// Room for `packedFloats` packed floats, and a gemm workspace for each of `workers` threads.
        func gemmBuffers(packedFloats floats: Int, workers: Int) -> (packed: UnsafeMutablePointer<Float>,
                                                                     workspace: UnsafeMutablePointer<Float>) {
            if floats > packedFloats {
                packed?.deallocate()
                packed = .allocate(capacity: floats)
                packedFloats = floats
            }
            if workers > gemmWorkers {
                gemmWorkspace?.deallocate()
                gemmWorkspace = .allocate(capacity: workers * gpt_gemm_scratch_floats())
                gemmWorkers = workers
            }
            return (packed!, gemmWorkspace!)
        }

        deinit {
            for buffer in [x, normed, qkv, attended, projected, hidden, scores] { buffer.deallocate() }
            packed?.deallocate()
            gemmWorkspace?.deallocate()
            quantized.deallocate()
        }
    }
}

/// Where one layer's cached keys (or values) are: head h's row for position
/// j is hs floats at base + h · headStride + j · rowStride. The cache keeps
/// heads apart (``RunState``); tests also lay rows out whole, (N, C).
struct CacheRows {
    let base: UnsafeMutablePointer<Float>
    let headStride: Int
    let rowStride: Int

    /// Head h's row for position 0.
    func head(_ h: Int) -> UnsafeMutablePointer<Float> { base + h * headStride }

    /// Puts a row of `heads` heads of hs floats at position j.
    func store(_ row: UnsafePointer<Float>, at j: Int, heads: Int, hs: Int) {
        for h in 0..<heads { (head(h) + j * rowStride).update(from: row + h * hs, count: hs) }
    }
}

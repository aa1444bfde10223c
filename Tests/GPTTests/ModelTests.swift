import Foundation
import Testing
@testable import GPT

/// The forward pass against the float64 numpy reference (`scripts/reference_gpt.py`),
/// on shapes chosen to break easy assumptions: one head and many, C not a multiple
/// of 16, V not a multiple of 128, windows shorter than the sequence.
@Suite struct ModelTests {
    @Test(arguments: Fixtures.modelNames)
    func lastLogitsMatchReference(name: String) throws {
        let (checkpoint, expected) = try Fixtures.model(name)
        let model = Model(checkpoint: checkpoint)
        #expect(model.config.maxT == expected.config.maxT && model.config.channels == expected.config.C)
        for example in expected.cases {
            let logits = model.forward(example.tokens, state: model.makeState())
            #expect(logits.count == expected.config.V)
            #expect(Fixtures.relativeError(logits, example.logits_last) < 1e-4, "\(name), \(example.tokens.count) tokens")
        }
    }

    @Test(arguments: Fixtures.modelNames)
    func prefillReturnsEveryPosition(name: String) throws {
        let (checkpoint, expected) = try Fixtures.model(name)
        let model = Model(checkpoint: checkpoint)
        let tokens = expected.logits_all.tokens
        let logits = model.forward(tokens, state: model.makeState(), allPositions: true)
        let V = expected.config.V
        for t in tokens.indices {
            let row = Array(logits[t * V ..< (t + 1) * V])
            #expect(Fixtures.relativeError(row, expected.logits_all.logits[t]) < 1e-4, "\(name), position \(t)")
        }
    }

    /// Feeding tokens one at a time through the KV cache gives the prefill's logits.
    @Test(arguments: Fixtures.modelNames)
    func decodeWithCacheMatchesReference(name: String) throws {
        let (checkpoint, expected) = try Fixtures.model(name)
        let model = Model(checkpoint: checkpoint)
        let state = model.makeState()
        let tokens = expected.logits_all.tokens
        for (t, token) in tokens.enumerated() {
            let logits = model.forward([token], state: state)
            #expect(Fixtures.relativeError(logits, expected.logits_all.logits[t]) < 1e-4, "\(name), position \(t)")
        }
        #expect(state.length == tokens.count)
    }

    /// A prompt in two chunks (prefill, then more prefill onto the cache) matches too.
    @Test func chunkedPrefillMatchesReference() throws {
        let (checkpoint, expected) = try Fixtures.model("many_heads")
        let model = Model(checkpoint: checkpoint)
        let state = model.makeState()
        let tokens = expected.logits_all.tokens
        _ = model.forward(Array(tokens[..<5]), state: state)
        let logits = model.forward(Array(tokens[5...]), state: state)
        #expect(Fixtures.relativeError(logits, expected.logits_all.logits[tokens.count - 1]) < 1e-4)
    }

    /// Greedy generation far past max_seq_len equals the reference that recomputes
    /// every window from scratch (DESIGN §5).
    @Test(arguments: Fixtures.modelNames)
    func greedySlidingWindowMatchesReference(name: String) throws {
        let (checkpoint, expected) = try Fixtures.model(name)
        let model = Model(checkpoint: checkpoint)
        for example in expected.greedy {
            var settings = GenerationSettings()
            settings.numTokens = example.num_tokens
            settings.maxSeqLen = example.max_seq_len
            settings.topK = 1
            let generator = try TokenGenerator(model: model, tokenizer: nil, promptTokens: example.prompt, settings: settings)
            let ids = generator.map(\.id)
            #expect(ids == example.ids, "\(name): prompt \(example.prompt.count) tokens, window \(example.max_seq_len)")
            #expect(generator.finishReason == .length)
        }
    }
}

/// Short passes spread their loops over a pool of threads; every chunk writes
/// its own outputs, so the logits must be bit-identical for any thread count.
@Suite struct DecodeThreadingTests {
    @Test func shortPassesGiveTheSameBitsOnOneThreadOrThree() throws {
        let (checkpoint, expected) = try Fixtures.model("many_heads")
        let tokens = expected.logits_all.tokens
        var runs: [[[Float]]] = []
        for threads in [1, 3] {
            let model = Model(weights: checkpoint.weights, pool: WorkerPool(threads: threads))
            let state = model.makeState()
            // A 5-token prompt, then one token at a time.
            let prompt = model.forward(Array(tokens[..<5]), state: state, allPositions: true)
            runs.append([prompt] + tokens[5...].map { model.forward([$0], state: state) })
        }
        #expect(runs[0] == runs[1])
        #expect(Fixtures.relativeError(runs[1].last!, expected.logits_all.logits.last!) < 1e-4)
    }
}

/// Several sequences decoded in one pass get the very bits each would get alone.
@Suite struct BatchedDecodeTests {
    @Test(arguments: Fixtures.modelNames)
    func batchMatchesSingleSequencesBitForBit(name: String) throws {
        let (checkpoint, expected) = try Fixtures.model(name)
        let model = Model(checkpoint: checkpoint)
        let tokens = expected.logits_all.tokens
        let V = model.config.vocabularySize
        // Three sequences at different positions: prompts of 1, 4 and 7 tokens.
        let prompts = [Array(tokens.prefix(1)), Array(tokens.prefix(4)), Array(tokens.suffix(7))]
        let alone = prompts.map { prompt -> RunState in
            let state = model.makeState()
            _ = model.forward(prompt, state: state)
            return state
        }
        let together = prompts.map { prompt -> RunState in
            let state = model.makeState()
            _ = model.forward(prompt, state: state)
            return state
        }
        for step in 0..<3 {
            let next = (0..<3).map { (tokens[($0 * 5 + step) % tokens.count] + step) % V }
            let single = (0..<3).map { model.forward([next[$0]], state: alone[$0]) }
            let batched = model.forward(batch: next, states: together)
            let identical = batched == single  // a Bool, so a failure does not print every logit
            #expect(identical, "\(name), step \(step)")
            #expect(together.map(\.length) == alone.map(\.length))
        }
        // A batch of one, too.
        let one = model.forward(batch: [tokens[0]], states: [together[1]]) == [model.forward([tokens[0]], state: alone[1])]
        #expect(one)
    }
}

/// Decode steps, prompt chunks and whole windows of several sequences share
/// one pass: each segment attends only to its own sequence and gets, bit for
/// bit, the logits and cache of its pass alone.
@Suite struct MultiSequencePassTests {
    static let model: Model = {
        let config = GPTConfig(maxT: 128, vocabularySize: 300, layers: 2, heads: 4, channels: 64)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("segments-\(getpid()).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try! CheckpointWriter.write(config: config, parameters: CheckpointWriter.randomParameters(config: config, seed: 9),
                                    to: path)
        return Model(checkpoint: try! Checkpoint(path: path))
    }()

    static func tokens(_ count: Int, seed: Int) -> [Int] { (0..<count).map { ($0 * 97 + seed * 31 + 7) % 300 } }

    /// Runs `chunks` after `earlier` tokens (per sequence) alone and as one
    /// pass, then one more token on each cache; true when every logit is the same.
    static func sameAsAlone(_ chunks: [[Int]], after earlier: [[Int]]) -> Bool {
        func states() -> [RunState] {
            earlier.map { tokens in
                let state = model.makeState()
                if !tokens.isEmpty { _ = model.forward(tokens, state: state) }
                return state
            }
        }
        let (alone, together) = (states(), states())
        let single = zip(chunks, alone).map { model.forward($0, state: $1) }
        let segmented = model.forward(segments: zip(chunks, together).map { ($0, $1, .last) }).map { $0! }
        let next = (alone.map { model.forward([5], state: $0) }, together.map { model.forward([5], state: $0) })
        return together.map(\.length) == alone.map(\.length) && segmented == single && next.0 == next.1
    }

    @Test func longSegmentsGetTheirBitsAlone() {
        // One sequence part-way (a prompt's second piece).
        let chunks = [Self.tokens(17, seed: 1), Self.tokens(32, seed: 2), Self.tokens(45, seed: 3)]
        #expect(Self.sameAsAlone(chunks, after: [[], [], Self.tokens(20, seed: 4)]))
    }

    @Test func shortSegmentsGetTheirBitsAlone() {
        let chunks = [Self.tokens(3, seed: 5), Self.tokens(5, seed: 6), Self.tokens(8, seed: 7)]
        #expect(Self.sameAsAlone(chunks, after: [Self.tokens(4, seed: 8), [], Self.tokens(30, seed: 9)]))
    }

    /// Short segments of more rows in all than one short pass holds.
    @Test func manyShortSegmentsGetTheirBitsAlone() {
        let chunks = (0..<5).map { Self.tokens(12, seed: 20 + $0) }
        #expect(Self.sameAsAlone(chunks, after: [[], Self.tokens(9, seed: 30), [], [], Self.tokens(70, seed: 31)]))
    }

    /// What a server turn holds: decode steps beside a long prompt chunk and a short one.
    @Test func decodeStepsBesideChunksGetTheirBitsAlone() {
        let chunks = [[7], Self.tokens(40, seed: 10), [9], Self.tokens(6, seed: 11), [11]]
        let earlier = [Self.tokens(12, seed: 12), [], Self.tokens(50, seed: 13), Self.tokens(64, seed: 14), [3]]
        #expect(Self.sameAsAlone(chunks, after: earlier))
    }

    /// A window pass gives the same bits whole or in any pieces of two rows or
    /// more (what lets the server cut a prompt as the other streams allow and
    /// still match the CLI, which runs it whole): its last logits, every
    /// position's logits, and the cache it leaves, which the next steps read.
    @Test(arguments: [[70], [2, 68], [35, 35], [17, 2, 2, 49], [16, 16, 16, 16, 6], [48, 22]])
    func aWindowPassGivesTheSameBitsInAnyPieces(pieces: [Int]) {
        let prompt = Self.tokens(70, seed: 40)
        func run(_ pieces: [Int], allPositions: Bool) -> (logits: [Float], next: [Float]) {
            let state = Self.model.makeState()
            var logits: [Float] = []
            var start = 0
            for piece in pieces {
                let part = Self.model.forward(Array(prompt[start..<start + piece]), state: state, allPositions: allPositions)
                logits = allPositions ? logits + part : part
                start += piece
            }
            return (logits, Self.model.forward([5], state: state))
        }
        let (whole, cut) = (run([70], allPositions: false), run(pieces, allPositions: false))
        #expect(cut.logits == whole.logits && cut.next == whole.next, "pieces \(pieces)")
        let (wholeAll, cutAll) = (run([70], allPositions: true), run(pieces, allPositions: true))
        #expect(cutAll.logits == wholeAll.logits, "pieces \(pieces), every position")
    }

    /// A segment that asks for every position's logits (scoring) gets those of
    /// `forward(_:state:allPositions:)` alone, beside a decode step.
    @Test func aSegmentGetsEveryPositionsLogitsWhenItAsks() {
        let prompt = Self.tokens(30, seed: 50)
        let alone = Self.model.forward(prompt, state: Self.model.makeState(), allPositions: true)
        let step = Self.model.makeState()
        _ = Self.model.forward([3, 4], state: step)
        let logits = Self.model.forward(segments: [([7], step, .last), (prompt, Self.model.makeState(), .all)])
        #expect(logits[1] == alone)
        #expect(logits[0]?.count == Self.model.config.vocabularySize)
    }

    /// Segments that ask for no logits get none, and the others' are unchanged.
    @Test func onlyTheSegmentsThatAskGetLogits() {
        let (a, b) = (Self.model.makeState(), Self.model.makeState())
        let logits = Self.model.forward(segments: [(Self.tokens(20, seed: 15), a, .none), ([4], b, .last)])
        #expect(logits[0] == nil && logits[1] == Self.model.forward([4], state: Self.model.makeState()))
        #expect(a.length == 20 && b.length == 1)
    }
}

import Testing
@testable import GPT

/// The generation loop: stopping, cancelling, validation, usage and timings.
@Suite struct GeneratorTests {
    let model: Model
    let greedy: Fixtures.ModelCase.Greedy

    init() throws {
        let (checkpoint, expected) = try Fixtures.model("many_heads")
        model = Model(checkpoint: checkpoint)
        greedy = expected.greedy[0]
    }

    func settings(numTokens: Int = 10, topK: Int = 1, eosId: Int = -1, seed: UInt64? = nil) -> GenerationSettings {
        var settings = GenerationSettings()
        settings.numTokens = numTokens
        settings.maxSeqLen = greedy.max_seq_len
        settings.topK = topK
        settings.eosId = eosId
        settings.seed = seed
        return settings
    }

    @Test func stopsAtEosWithoutEmittingIt() throws {
        // The reference's 6th greedy token, used as eos, must end the run after 5 tokens.
        let eos = greedy.ids[5]
        let firstEos = greedy.ids.firstIndex(of: eos)!
        let generator = try TokenGenerator(model: model, tokenizer: nil, promptTokens: greedy.prompt,
                                           settings: settings(numTokens: 30, eosId: eos))
        let ids = generator.map(\.id)
        #expect(ids == Array(greedy.ids[..<firstEos]))
        #expect(generator.finishReason == .eos)
        #expect(generator.usage.generatedTokens == firstEos)
    }

    @Test func cancelsBetweenTokens() throws {
        let generator = try TokenGenerator(model: model, tokenizer: nil, promptTokens: greedy.prompt, settings: settings(numTokens: 30))
        var ids: [Int] = []
        while let token = generator.next() {
            ids.append(token.id)
            if ids.count == 3 { generator.cancellation.cancel() }
        }
        #expect(ids == Array(greedy.ids[..<3]))
        #expect(generator.finishReason == .cancelled)
        #expect(generator.next() == nil)
    }

    @Test func reportsUsageAndTimings() throws {
        let generator = try TokenGenerator(model: model, tokenizer: nil, promptTokens: greedy.prompt, settings: settings(numTokens: 12))
        let count = generator.reduce(0) { count, _ in count + 1 }
        #expect(count == 12)
        #expect(generator.finishReason == .length)
        #expect(generator.usage == GenerationUsage(promptTokens: greedy.prompt.count, generatedTokens: 12))
        #expect(generator.timings.prefillMilliseconds > 0)
        #expect(generator.timings.decodedTokens == 11)
        #expect(generator.timings.millisecondsPerToken > 0)
    }

    @Test func zeroTokensFinishesAtOnce() throws {
        let generator = try TokenGenerator(model: model, tokenizer: nil, promptTokens: greedy.prompt, settings: settings(numTokens: 0))
        #expect(generator.next() == nil)
        #expect(generator.finishReason == .length)
    }

    @Test func seededSamplingIsReproducibleAndReportsItsSeed() throws {
        func run(_ seed: UInt64?) throws -> (ids: [Int], seed: UInt64) {
            let generator = try TokenGenerator(model: model, tokenizer: nil, promptTokens: greedy.prompt,
                                               settings: settings(numTokens: 25, topK: 0, seed: seed))
            return (generator.map(\.id), generator.seed)
        }
        let first = try run(1234), second = try run(1234), other = try run(99)
        #expect(first.ids == second.ids)
        #expect(first.ids != other.ids)
        #expect(first.seed == 1234)
        let unseeded = try run(nil)
        #expect(try run(unseeded.seed).ids == unseeded.ids)
    }

    @Test func refusesSettingsOutOfRange() throws {
        let cases: [(String, (inout GenerationSettings) -> Void)] = [
            ("num_tokens", { $0.numTokens = -1 }),
            ("max_seq_len", { $0.maxSeqLen = 0 }),
            ("max_seq_len", { $0.maxSeqLen = 33 }),  // the model's context is 32
            ("top_k", { $0.topK = -2 }),
            ("temp", { $0.temperature = -0.5 }),
            ("temp", { $0.temperature = .nan }),
            ("top_p", { $0.topP = 0 }),
            ("top_p", { $0.topP = 1.5 }),
            ("eos_id", { $0.eosId = 300 }),
            ("eos_id", { $0.eosId = -2 }),
        ]
        for (field, change) in cases {
            var settings = GenerationSettings()
            change(&settings)
            #expect(throws: SettingsError.self) { try settings.validate(for: model.config) }
            do { try settings.validate(for: model.config) } catch { #expect(error.field == field) }
        }
        var fine = GenerationSettings()
        fine.maxSeqLen = 32
        fine.eosId = 299
        try fine.validate(for: model.config)
    }

    @Test func refusesEmptyOrForeignPrompts() throws {
        #expect(throws: GenerationError.self) {
            try TokenGenerator(model: model, tokenizer: nil, promptTokens: [], settings: settings())
        }
        #expect(throws: GenerationError.self) {
            try TokenGenerator(model: model, tokenizer: nil, promptTokens: [1, 300], settings: settings())
        }
    }

    /// The server's way of running several generations: their decode steps in
    /// one batched pass, whole-window passes alone. Each must produce exactly
    /// the tokens it produces on its own: sampled, past the window (slides),
    /// with an eos that ends one early and a cancellation midway.
    @Test func generationsSteppedTogetherInBatchesMatchSoloRuns() throws {
        let eos = greedy.ids[7]
        var steered = settings(numTokens: 3 * greedy.max_seq_len, topK: 0, eosId: eos, seed: 14)
        (steered.minP, steered.repeatPenalty, steered.repeatLastN) = (0.05, 1.3, 6)
        (steered.presencePenalty, steered.frequencyPenalty, steered.logitBias) = (0.4, 0.2, [greedy.ids[0]: -100, 3: 2])
        steered.minTokens = 10
        let runs: [(prompt: [Int], settings: GenerationSettings, cancelAfter: Int?)] = [
            (greedy.prompt, steered, nil),
            (greedy.prompt, settings(numTokens: 3 * greedy.max_seq_len, topK: 5, seed: 11), nil),
            (Array(greedy.prompt.prefix(2)), settings(numTokens: 40, topK: 3, seed: 12), nil),
            (greedy.prompt, settings(numTokens: 30, eosId: eos), nil),
            (Array(greedy.prompt.suffix(3)), settings(numTokens: 50, topK: 8, seed: 13), 6),
        ]
        let solo = try runs.map { run -> [Int] in
            let generator = try TokenGenerator(model: model, tokenizer: nil, promptTokens: run.prompt, settings: run.settings)
            return Array(generator.map(\.id).prefix(run.cancelAfter ?? .max))
        }
        let generators = try runs.map {
            try TokenGenerator(model: model, tokenizer: nil, promptTokens: $0.prompt, settings: $0.settings)
        }
        var together = Array(repeating: [Int](), count: runs.count)
        var batchedSteps = 0
        while generators.contains(where: { $0.finishReason == nil }) {
            for (k, run) in runs.enumerated() where together[k].count == run.cancelAfter {
                generators[k].cancellation.cancel()
            }
            var batch: [(index: Int, token: Int, state: RunState)] = []
            for (k, generator) in generators.enumerated() {
                switch generator.nextStep() {
                case .decode(let token, let state): batch.append((k, token, state))
                case .over: continue
                case .window, .score: if let token = generator.next() { together[k].append(token.id) }
                }
            }
            guard !batch.isEmpty else { continue }
            batchedSteps += 1
            let started = ContinuousClock.now
            let logits = model.forward(batch: batch.map(\.token), states: batch.map(\.state))
            for (entry, logits) in zip(batch, logits) {
                if let token = generators[entry.index].complete(logits: logits, started: started) {
                    together[entry.index].append(token.id)
                }
            }
        }
        #expect(together == solo)
        #expect(generators.map(\.finishReason).dropFirst() == [.length, .length, .eos, .cancelled])
        #expect(!together[0].contains(greedy.ids[0]) && !together[0].prefix(10).contains(eos))
        #expect(batchedSteps > 0)
    }

    /// Pieces of a window pass: never one token out of a longer pass (one row
    /// takes the decode path), never more than the limit but for that, and
    /// the whole pass when no limit is given.
    @Test func windowPiecesAreNeverASingleTokenOfALongerPass() {
        #expect(TokenGenerator.windowPiece(remaining: 1, limit: 48) == 1)
        #expect(TokenGenerator.windowPiece(remaining: 700, limit: .max) == 700)
        for remaining in 1...120 {
            for limit in [0, 1, 2, 3, 16, 48] {
                var left = remaining
                var pieces: [Int] = []
                while left > 0 {
                    let piece = TokenGenerator.windowPiece(remaining: left, limit: limit)
                    pieces.append(piece)
                    left -= piece
                }
                #expect(left == 0 && (remaining == 1 || pieces.allSatisfy { $0 >= 2 }), "\(remaining) by \(limit): \(pieces)")
                #expect(pieces.allSatisfy { $0 <= max(2, limit) + 1 }, "\(remaining) by \(limit): \(pieces)")
            }
        }
    }
}

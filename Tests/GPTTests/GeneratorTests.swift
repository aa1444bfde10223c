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
}

import Foundation
import Testing
@testable import GPT

/// Log-probabilities against the float64 numpy reference (`scripts/make_score_fixtures.py`):
/// scoring a text longer than the context with a sliding window, and the
/// log-probabilities reported beside greedy tokens.
@Suite struct ScoringTests {
    struct Expected: Decodable {
        let id: Int
        let logprob: Double
        let top_ids: [Int]
        let top_logprobs: [Double]
    }
    struct Scores: Decodable {
        let window: Int
        let stride: Int
        let expected: [Expected?]
    }
    struct Generation: Decodable {
        let prompt: [Int]
        let max_seq_len: Int
        let num_tokens: Int
        let expected: [Expected]
    }
    struct Case: Decodable {
        let name: String
        let tokens: [Int]
        let scores: [Scores]
        let generation: [Generation]
    }

    static let cases: [Case] = {
        let data = try! Data(contentsOf: Fixtures.directory.appendingPathComponent("model/scores.json"))
        return try! JSONDecoder().decode([Case].self, from: data)
    }()

    static let tolerance = 1e-4

    func check(_ actual: TokenLogprob, _ expected: Expected, _ where: String) {
        #expect(actual.id == expected.id, "\(`where`)")
        #expect(abs(actual.logprob - expected.logprob) < Self.tolerance, "\(`where`): \(actual.logprob) vs \(expected.logprob)")
        #expect(actual.top.map(\.id) == expected.top_ids, "\(`where`)")
        for (alternative, logprob) in zip(actual.top, expected.top_logprobs) {
            #expect(abs(alternative.logprob - logprob) < Self.tolerance, "\(`where`)")
        }
    }

    @Test(arguments: [0, 1, 2])
    func slidingWindowScoresMatchTheReference(index: Int) throws {
        let example = Self.cases[index]
        let model = Model(checkpoint: try Checkpoint(path: Fixtures.path("model/\(example.name).bin")))
        for scores in example.scores {
            var reported: [Int] = []
            let actual = Scoring.score(example.tokens, model: model, window: scores.window, stride: scores.stride,
                                       alternatives: 3, progress: { reported.append($0) })
            #expect(actual.count == example.tokens.count)
            #expect(actual.first! == nil)
            #expect(reported.last == example.tokens.count && reported == reported.sorted())
            for (t, (score, expected)) in zip(actual, scores.expected).enumerated().dropFirst() {
                check(score!, expected!, "\(example.name) window \(scores.window) stride \(scores.stride) token \(t)")
            }
        }
    }

    /// The generator reports the raw distribution's log-probability of each
    /// token it draws, whatever the sampler does (here greedy via top_k 1).
    @Test(arguments: [0, 1, 2])
    func generatedTokensCarryTheirLogprobs(index: Int) throws {
        let example = Self.cases[index]
        let model = Model(checkpoint: try Checkpoint(path: Fixtures.path("model/\(example.name).bin")))
        for run in example.generation {
            var settings = GenerationSettings()
            settings.numTokens = run.num_tokens
            settings.maxSeqLen = run.max_seq_len
            settings.topK = 1
            settings.logprobs = 3
            let tokens = Array(try TokenGenerator(model: model, tokenizer: nil, promptTokens: run.prompt, settings: settings))
            #expect(tokens.count == run.expected.count)
            for (t, (token, expected)) in zip(tokens, run.expected).enumerated() {
                check(token.logprob!, expected, "\(example.name) step \(t)")
            }
        }
    }

    /// Scoring the prompt comes first, even when no token is asked for; the
    /// window of the generation is the window of the scores.
    @Test func generatorScoresItsPromptWithItsWindow() throws {
        let example = Self.cases[2]
        let model = Model(checkpoint: try Checkpoint(path: Fixtures.path("model/\(example.name).bin")))
        let scores = try #require(example.scores.first { $0.window == 8 && $0.stride == 4 })  // the default stride
        var settings = GenerationSettings()
        settings.numTokens = 0
        settings.maxSeqLen = scores.window
        settings.logprobs = 3
        settings.scorePrompt = true
        let generator = try TokenGenerator(model: model, tokenizer: nil, promptTokens: example.tokens, settings: settings)
        #expect(generator.next() == nil)
        #expect(generator.finishReason == .length)
        let actual = try #require(generator.promptScores)
        #expect(actual.count == example.tokens.count && actual.first! == nil)
        for (t, (score, expected)) in zip(actual, scores.expected).enumerated().dropFirst() {
            check(score!, expected!, "prompt token \(t)")
        }
    }

    @Test func logprobsOutOfRangeAreRefused() {
        var settings = GenerationSettings()
        settings.logprobs = TokenLogprob.maxAlternatives + 1
        #expect(throws: SettingsError.self) { try settings.validate(for: nil) }
        settings.logprobs = -1
        #expect(throws: SettingsError.self) { try settings.validate(for: nil) }
    }
}

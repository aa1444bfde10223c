import Foundation
import Testing
@testable import GPT

@Suite struct SamplerTests {
    @Test func greedyTakesTheHighestLogitAndLowestIndexOnTies() {
        var random = Xoshiro256StarStar(seed: 1)
        let logits: [Float] = [0.5, 2, -1, 2, 1.9]
        #expect(Sampler(temperature: 0, topK: 5).sample(logits, using: &random) == 1)
        #expect(Sampler(temperature: 1.5, topK: 1).sample(logits, using: &random) == 1)
    }

    @Test func candidatesAreTheTopKInOrder() {
        var random = Xoshiro256StarStar(seed: 9)
        let logits = (0..<3000).map { _ in Float(Int(random.nextGaussian() * 20)) / 4 }  // many ties
        let sortedIndices = logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        for k in [1, 2, 5, 40, 64, 65, 500, 3000] {
            #expect(Sampler.candidates(logits, topK: k, sorted: true) == Array(sortedIndices.prefix(k)), "k = \(k)")
        }
        #expect(Sampler.candidates(logits, topK: 0, sorted: true) == sortedIndices)
        #expect(Sampler.candidates(logits, topK: 0, sorted: false) == Array(logits.indices))
    }

    /// Samples `draws` tokens and returns the count of each id.
    func histogram(_ sampler: Sampler, _ logits: [Float], draws: Int, seed: UInt64) -> [Int] {
        var random = Xoshiro256StarStar(seed: seed)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<draws { counts[sampler.sample(logits, using: &random)] += 1 }
        return counts
    }

    /// Pearson's chi-square statistic of `counts` against `expected` probabilities (nonzero ones only).
    func chiSquare(_ counts: [Int], _ expected: [Double]) -> Double {
        let total = Double(counts.reduce(0, +))
        return zip(counts, expected).filter { $0.1 > 0 }.map { count, p in
            let e = p * total
            return (Double(count) - e) * (Double(count) - e) / e
        }.reduce(0, +)
    }

    let logits: [Float] = [1.0, 3.0, 0.5, 2.5, -1.0, 2.0, 0.0]

    /// Expected distribution written out directly from the definition.
    func intended(temperature: Double, keep: Set<Int>) -> [Double] {
        let weights = logits.indices.map { keep.contains($0) ? Foundation.exp(Double(logits[$0]) / temperature) : 0 }
        let sum = weights.reduce(0, +)
        return weights.map { $0 / sum }
    }

    @Test func temperatureAndTopKFrequenciesMatchTheDistribution() {
        // top 4 of the logits are ids 1 (3.0), 3 (2.5), 5 (2.0), 0 (1.0).
        let expected = intended(temperature: 0.7, keep: [1, 3, 5, 0])
        let counts = histogram(Sampler(temperature: 0.7, topK: 4), logits, draws: 200_000, seed: 11)
        #expect(counts[2] == 0 && counts[4] == 0 && counts[6] == 0)
        // 3 degrees of freedom: 16.27 is the 0.999 quantile.
        #expect(chiSquare(counts, expected) < 16.27, "counts \(counts)")
        // The wrong temperature is caught by the same test: it is not a test that cannot fail.
        #expect(chiSquare(counts, intended(temperature: 1.0, keep: [1, 3, 5, 0])) > 100)
    }

    @Test func allTokensWithTopKZero() {
        let expected = intended(temperature: 1.3, keep: Set(logits.indices))
        let counts = histogram(Sampler(temperature: 1.3, topK: 0), logits, draws: 200_000, seed: 12)
        #expect(chiSquare(counts, expected) < 22.46)  // 6 degrees of freedom, 0.999 quantile
    }

    @Test func nucleusKeepsTheSmallestPrefixReachingTopP() {
        // At temperature 1 over all tokens: p(1) ≈ 0.457, p(3) ≈ 0.277, p(5) ≈ 0.168, so
        // top_p 0.8 keeps {1, 3, 5} (0.734 < 0.8 ≤ 0.902), renormalised.
        let full = intended(temperature: 1, keep: Set(logits.indices))
        #expect(full[1] + full[3] < 0.8 && full[1] + full[3] + full[5] >= 0.8)
        let expected = intended(temperature: 1, keep: [1, 3, 5])
        let counts = histogram(Sampler(temperature: 1, topK: 0, topP: 0.8), logits, draws: 100_000, seed: 13)
        #expect(counts[0] == 0 && counts[2] == 0 && counts[4] == 0 && counts[6] == 0)
        #expect(chiSquare(counts, expected) < 13.82)  // 2 degrees of freedom
    }

    // MARK: the steering samplers, each against its distribution written out from its definition

    /// Counts of `draws` tokens sampled after `context`, `generated` of them generated.
    func histogram(_ sampler: Sampler, context: [Int], generated: Int = 0, draws: Int, seed: UInt64) -> [Int] {
        var random = Xoshiro256StarStar(seed: seed)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<draws { counts[sampler.sample(logits, context: context, generated: generated, using: &random)] += 1 }
        return counts
    }

    /// softmax(changed logits / temperature) over `keep`.
    func distribution(_ changed: [Float], temperature: Double = 1, keep: Set<Int>? = nil) -> [Double] {
        let weights = changed.indices.map { (keep ?? Set(changed.indices)).contains($0) ? Foundation.exp(Double(changed[$0]) / temperature) : 0 }
        let sum = weights.reduce(0, +)
        return weights.map { $0 / sum }
    }

    @Test func minPDropsTokensBelowAFractionOfTheMostLikely() {
        // p = softmax(logits): p(1) ≈ 0.457; min_p 0.3 keeps p ≥ 0.137: ids 1, 3 (0.277), 5 (0.168).
        let full = distribution(logits)
        #expect(full[5] >= 0.3 * full[1] && full[0] < 0.3 * full[1])
        var sampler = Sampler(temperature: 1, topK: 0)
        sampler.minP = 0.3
        let counts = histogram(sampler, logits, draws: 100_000, seed: 21)
        #expect(counts[0] == 0 && counts[2] == 0 && counts[4] == 0 && counts[6] == 0)
        #expect(chiSquare(counts, distribution(logits, keep: [1, 3, 5])) < 13.82)  // 2 degrees of freedom
    }

    @Test func repeatPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        var sampler = Sampler(temperature: 1, topK: 0)
        sampler.repeatPenalty = 1.5
        sampler.repeatLastN = 3
        // Context [0, 1, 4, 1]: the last 3 are 1, 4, 1 (id 0 fell out of the window); 1 counts once.
        var changed = logits
        changed[1] = 3.0 / 1.5
        changed[4] = -1.0 * 1.5
        let counts = histogram(sampler, context: [0, 1, 4, 1], draws: 200_000, seed: 22)
        #expect(chiSquare(counts, distribution(changed)) < 22.46)  // 6 degrees of freedom
        #expect(chiSquare(counts, distribution(logits)) > 100)
    }

    @Test func presenceAndFrequencyPenaltiesSubtractPerTokenAndPerOccurrence() {
        var sampler = Sampler(temperature: 0.8, topK: 0)
        (sampler.presencePenalty, sampler.frequencyPenalty) = (0.5, 0.4)
        var changed = logits
        changed[3] = 2.5 - 0.5 - 2 * 0.4
        changed[5] = 2.0 - 0.5 - 1 * 0.4
        let counts = histogram(sampler, context: [3, 3, 5], draws: 200_000, seed: 23)
        #expect(chiSquare(counts, distribution(changed, temperature: 0.8)) < 22.46)
        #expect(chiSquare(counts, distribution(logits, temperature: 0.8)) > 100)
    }

    @Test func logitBiasAddsAndMinusHundredBans() {
        var sampler = Sampler(temperature: 1, topK: 0)
        sampler.logitBias = [0: 2, 1: -100, 6: -0.5]
        var changed = logits
        changed[0] += 2
        changed[6] -= 0.5
        let counts = histogram(sampler, context: [], draws: 200_000, seed: 24)
        #expect(counts[1] == 0)
        var keep = Set(logits.indices)
        keep.remove(1)
        #expect(chiSquare(counts, distribution(changed, keep: keep)) < 20.52)  // 5 degrees of freedom
        // A ban holds for greedy sampling too.
        var greedy = Sampler(temperature: 0, topK: 0)
        greedy.logitBias = [1: -100]
        var random = Xoshiro256StarStar(seed: 1)
        #expect(greedy.sample(logits, context: [], generated: 0, using: &random) == 3)
    }

    @Test func eosIsBannedBeforeMinTokensAndAlwaysWithIgnoreEOS() {
        var sampler = Sampler(temperature: 0, topK: 0)
        sampler.eosId = 1  // the most likely token
        sampler.minTokens = 2
        var random = Xoshiro256StarStar(seed: 1)
        #expect(sampler.sample(logits, context: [], generated: 1, using: &random) == 3)
        #expect(sampler.sample(logits, context: [], generated: 2, using: &random) == 1)
        sampler.ignoreEOS = true
        #expect(sampler.sample(logits, context: [], generated: 50, using: &random) == 3)
    }

    @Test func steeringSettingsOutOfRangeAreRefused() {
        let config = GPTConfig(maxT: 16, vocabularySize: 100, layers: 1, heads: 1, channels: 8)
        let cases: [(String, (inout GenerationSettings) -> Void)] = [
            ("min_p", { $0.minP = 1.5 }), ("min_p", { $0.minP = -0.1 }),
            ("repeat_penalty", { $0.repeatPenalty = 0 }), ("repeat_penalty", { $0.repeatPenalty = 11 }),
            ("repeat_last_n", { $0.repeatLastN = -1 }),
            ("presence_penalty", { $0.presencePenalty = 2.5 }), ("frequency_penalty", { $0.frequencyPenalty = -3 }),
            ("logit_bias", { $0.logitBias = [100: 1] }), ("logit_bias", { $0.logitBias = [5: 101] }),
            ("logit_bias", { $0.logitBias = [-1: 1] }), ("min_tokens", { $0.minTokens = -1 }),
        ]
        for (field, change) in cases {
            var settings = GenerationSettings()
            settings.maxSeqLen = 16
            change(&settings)
            #expect(throws: SettingsError.self, "\(field)") { try settings.validate(for: config) }
            do { try settings.validate(for: config) } catch { #expect(error.field == field) }
        }
    }

    @Test func sameSeedSameTokens() {
        let sampler = Sampler(temperature: 1, topK: 0)
        #expect(histogram(sampler, logits, draws: 50, seed: 5) == histogram(sampler, logits, draws: 50, seed: 5))
        var a = Xoshiro256StarStar(seed: 5), b = Xoshiro256StarStar(seed: 6)
        let first = (0..<50).map { _ in sampler.sample(logits, using: &a) }
        let second = (0..<50).map { _ in sampler.sample(logits, using: &b) }
        #expect(first != second)
    }
}

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

    @Test func sameSeedSameTokens() {
        let sampler = Sampler(temperature: 1, topK: 0)
        #expect(histogram(sampler, logits, draws: 50, seed: 5) == histogram(sampler, logits, draws: 50, seed: 5))
        var a = Xoshiro256StarStar(seed: 5), b = Xoshiro256StarStar(seed: 6)
        let first = (0..<50).map { _ in sampler.sample(logits, using: &a) }
        let second = (0..<50).map { _ in sampler.sample(logits, using: &b) }
        #expect(first != second)
    }
}

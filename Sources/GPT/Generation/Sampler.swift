import Foundation

/// Picks the next token from logits, in the order of DESIGN §5:
/// temperature 0 or top_k 1 → argmax; else logits / temperature → keep the
/// top_k (0 = all) → softmax → top_p nucleus → draw.
public struct Sampler: Sendable {
    public var temperature: Float
    public var topK: Int
    public var topP: Float

    public init(temperature: Float, topK: Int, topP: Float = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    public var isGreedy: Bool { temperature == 0 || topK == 1 }

    /// The next token id for `logits` (V entries), drawing from `random`.
    public func sample(_ logits: [Float], using random: inout Xoshiro256StarStar) -> Int {
        if isGreedy { return Self.argmax(logits) }
        let candidates = Self.candidates(logits, topK: topK, sorted: topP < 1)
        var probabilities = Self.softmax(candidates.map { logits[$0] / temperature })
        let kept = topP < 1 ? Self.nucleus(probabilities, topP: topP) : probabilities.count
        probabilities.removeLast(probabilities.count - kept)
        return candidates[Self.draw(probabilities, unit: random.nextUnit())]
    }

    /// The highest logit's index; the lowest index wins a tie.
    static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        return best
    }

    /// Indices of the `topK` highest logits (all when 0), highest first, ties by
    /// lower index. With topK 0 and `sorted` false, all indices in order (no sort needed).
    static func candidates(_ logits: [Float], topK: Int, sorted: Bool) -> [Int] {
        let k = topK > 0 ? min(topK, logits.count) : logits.count
        if k == logits.count && !sorted { return Array(logits.indices) }
        func before(_ a: Int, _ b: Int) -> Bool { logits[a] > logits[b] || (logits[a] == logits[b] && a < b) }
        if k > 64 { return Array(logits.indices.sorted(by: before).prefix(k)) }
        // Small k: one pass keeping a sorted list of the best k, cheap for V = 50257.
        var best: [Int] = []
        best.reserveCapacity(k + 1)
        for i in logits.indices {
            if best.count == k, !before(i, best[k - 1]) { continue }
            var position = best.count
            while position > 0 && before(i, best[position - 1]) { position -= 1 }
            best.insert(i, at: position)
            if best.count > k { best.removeLast() }
        }
        return best
    }

    /// Probabilities of `scaled` logits; subtracting the maximum keeps exp finite.
    static func softmax(_ scaled: [Float]) -> [Double] {
        let maximum = scaled.max() ?? 0
        let exps = scaled.map { exp(Double($0 - maximum)) }
        let sum = exps.reduce(0, +)
        return exps.map { $0 / sum }
    }

    /// How many of the (descending) `probabilities` form the smallest prefix
    /// whose mass reaches `topP`; at least one.
    static func nucleus(_ probabilities: [Double], topP: Float) -> Int {
        var mass = 0.0
        for (i, p) in probabilities.enumerated() {
            mass += p
            if mass >= Double(topP) { return i + 1 }
        }
        return probabilities.count
    }

    /// The index whose cumulative mass first exceeds `unit` × total mass.
    static func draw(_ probabilities: [Double], unit: Double) -> Int {
        let target = unit * probabilities.reduce(0, +)
        var mass = 0.0
        for (i, p) in probabilities.enumerated() {
            mass += p
            if target < mass { return i }
        }
        return probabilities.count - 1  // rounding left target at the very top
    }
}

import Foundation

/// Picks the next token from logits, in this order (the README's):
///
/// 1. `logit_bias` is added to its tokens' logits (-100 bans a token outright);
/// 2. the eos token is banned with `ignore_eos`, or while fewer than `min_tokens` were generated;
/// 3. penalties over the last `repeat_last_n` tokens of the context (prompt and
///    generated): `repeat_penalty` divides a positive logit and multiplies a
///    negative one (once per distinct token), then `presence_penalty` is
///    subtracted once per distinct token and `frequency_penalty` once per occurrence;
/// 4. temperature 0 or top_k 1 → argmax;
/// 5. else logits / temperature → keep the top_k (0 = all) → softmax → top_p
///    nucleus → min_p (drop tokens below min_p × the most likely one's probability) → draw.
///
/// Every step depends only on the sequence's own tokens, so a generation
/// samples the same way alone or batched with others.
public struct Sampler: Sendable {
    public var temperature: Float
    public var topK: Int
    public var topP: Float
    public var minP: Float = 0
    public var logitBias: [Int: Float] = [:]
    public var repeatPenalty: Float = 1
    public var repeatLastN = 64
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    /// The token to ban while fewer than `minTokens` were generated (always, with `ignoreEOS`); -1 for none.
    public var eosId = -1
    public var ignoreEOS = false
    public var minTokens = 0

    /// A bias of this much (or less) bans the token.
    public static let banningBias: Float = -100

    public init(temperature: Float, topK: Int, topP: Float = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    /// A sampler with every setting of `settings`.
    public init(_ settings: GenerationSettings) {
        self.init(temperature: settings.temperature, topK: settings.topK, topP: settings.topP)
        minP = settings.minP
        logitBias = settings.logitBias
        repeatPenalty = settings.repeatPenalty
        repeatLastN = settings.repeatLastN
        presencePenalty = settings.presencePenalty
        frequencyPenalty = settings.frequencyPenalty
        eosId = settings.eosId
        ignoreEOS = settings.ignoreEOS
        minTokens = settings.minTokens
    }

    public var isGreedy: Bool { temperature == 0 || topK == 1 }

    /// True when steps 1-3 change nothing, so the logits need no copy.
    var leavesLogitsAlone: Bool {
        logitBias.isEmpty && (eosId < 0 || (!ignoreEOS && minTokens == 0))
            && repeatPenalty == 1 && presencePenalty == 0 && frequencyPenalty == 0
    }

    /// The next token for `logits` (V entries) of a sequence whose tokens so far are
    /// `context` (prompt and generated), `generated` of them generated; draws from `random`.
    public func sample(_ logits: [Float], context: [Int], generated: Int, using random: inout Xoshiro256StarStar) -> Int {
        if leavesLogitsAlone { return sample(logits, using: &random) }
        return sample(adjusted(logits, context: context, generated: generated), using: &random)
    }

    /// Steps 4-5 only: the next token for logits already biased and penalised.
    public func sample(_ logits: [Float], using random: inout Xoshiro256StarStar) -> Int {
        if isGreedy { return Self.argmax(logits) }
        let candidates = Self.candidates(logits, topK: topK, sorted: topP < 1 || minP > 0)
        var probabilities = Self.softmax(candidates.map { logits[$0] / temperature })
        var kept = topP < 1 ? Self.nucleus(probabilities, topP: topP) : probabilities.count
        if minP > 0 { kept = Self.aboveMinP(probabilities[..<kept], minP: minP) }
        probabilities.removeLast(probabilities.count - kept)
        return candidates[Self.draw(probabilities, unit: random.nextUnit())]
    }

    /// Steps 1-3: the logits with bias, bans and penalties applied.
    func adjusted(_ logits: [Float], context: [Int], generated: Int) -> [Float] {
        var logits = logits
        for (id, bias) in logitBias where id < logits.count {
            logits[id] = bias <= Self.banningBias ? -.infinity : logits[id] + bias
        }
        if eosId >= 0 && eosId < logits.count && (ignoreEOS || generated < minTokens) {
            logits[eosId] = -.infinity
        }
        guard repeatLastN > 0, repeatPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0 else { return logits }
        var counts: [Int: Int] = [:]
        for id in context.suffix(repeatLastN) { counts[id, default: 0] += 1 }
        for (id, count) in counts where id < logits.count {
            var logit = logits[id]
            if repeatPenalty != 1 { logit = logit > 0 ? logit / repeatPenalty : logit * repeatPenalty }
            logits[id] = logit - presencePenalty - Float(count) * frequencyPenalty
        }
        return logits
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

    /// How many of the (descending) `probabilities` are at least `minP` times the first; at least one.
    static func aboveMinP(_ probabilities: ArraySlice<Double>, minP: Float) -> Int {
        guard let top = probabilities.first else { return 0 }
        let threshold = top * Double(minP)
        return max(1, probabilities.prefix { $0 >= threshold }.count)
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

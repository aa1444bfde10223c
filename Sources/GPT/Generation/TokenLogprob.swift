import Foundation

/// How likely the model found one token, and what else it expected there.
///
/// Always from the model's raw distribution: log-softmax of the logits before
/// temperature, top_k, top_p or any other sampler touches them, because that
/// is what scoring and evaluation need (and what does not depend on how the
/// token was drawn).
public struct TokenLogprob: Sendable, Equatable {
    /// One of the most likely tokens at this position.
    public struct Alternative: Sendable, Equatable {
        public let id: Int
        public let logprob: Double
    }

    /// The token that is there (drawn, or given in the text).
    public let id: Int
    /// Its natural-log probability, at most 0.
    public let logprob: Double
    /// The most likely tokens at this position, most likely first (ties: lower id first).
    public let top: [Alternative]

    /// Most alternatives a request may ask for (OpenAI's chat API allows 20 too).
    public static let maxAlternatives = 20

    /// The log-probability of `id` and the `alternatives` most likely tokens under `logits` (V).
    public init(id: Int, logits: [Float], alternatives: Int) {
        // log p_i = l_i - max - log Σ exp(l_j - max), summed in Double so that
        // a vocabulary of 50k terms loses nothing.
        let maximum = logits.max() ?? 0
        var sum = 0.0
        for logit in logits { sum += exp(Double(logit - maximum)) }
        let logNormalizer = Double(maximum) + log(sum)
        self.id = id
        logprob = Double(logits[id]) - logNormalizer
        top = alternatives == 0 ? [] : Sampler.candidates(logits, topK: alternatives, sorted: true).map {
            Alternative(id: $0, logprob: Double(logits[$0]) - logNormalizer)
        }
    }
}

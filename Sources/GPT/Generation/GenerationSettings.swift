/// How to generate: the documented `generate` flags (DESIGN §6) plus top_p and seed.
/// The server's JSON body carries the same fields with the same defaults.
public struct GenerationSettings: Sendable, Equatable {
    /// New tokens to generate at most.
    public var numTokens = 50
    /// Tokens the model sees at once; older ones slide out of the window.
    public var maxSeqLen = 32
    /// Keep the k most likely tokens (0 = all; 1 = greedy).
    public var topK = 5
    /// Softmax temperature (0 = greedy).
    public var temperature: Float = 1.0
    /// Nucleus sampling mass (1 = off).
    public var topP: Float = 1.0
    /// Stop when this token is drawn (-1 = never).
    public var eosId = -1
    /// Makes sampling reproducible; nil draws a fresh seed (reported back).
    public var seed: UInt64?
    /// Stop when the text contains one of these; the match is not returned.
    public var stop: [String] = []
    /// Drop tokens less likely than this fraction of the most likely one (0 = off).
    public var minP: Float = 0
    /// Penalise tokens among the last `repeatLastN` of the context: positive logits
    /// divided by it, negative ones multiplied (1 = off).
    public var repeatPenalty: Float = 1
    /// How many of the latest tokens (prompt and generated) the penalties look at (0 = none).
    public var repeatLastN = 64
    /// Subtracted once from the logit of each token among the last `repeatLastN`.
    public var presencePenalty: Float = 0
    /// Subtracted from a token's logit once per occurrence among the last `repeatLastN`.
    public var frequencyPenalty: Float = 0
    /// Added to the logits of these token ids; -100 bans a token.
    public var logitBias: [Int: Float] = [:]
    /// Never draw `eosId` (generate until `numTokens` or a stop string).
    public var ignoreEOS = false
    /// Do not draw `eosId` before this many tokens were generated.
    public var minTokens = 0
    /// Report each generated token's log-probability with this many most likely
    /// alternatives (0 … `TokenLogprob.maxAlternatives`); nil reports none.
    public var logprobs: Int?
    /// Score the prompt too: every prompt token's log-probability (see `Scoring`),
    /// with `logprobs` alternatives.
    public var scorePrompt = false

    /// The range of `presencePenalty` and `frequencyPenalty` (OpenAI's).
    public static let penaltyRange: ClosedRange<Float> = -2...2
    /// The range of `repeatPenalty` (above its lower bound).
    public static let repeatPenaltyRange: ClosedRange<Float> = 0...10
    /// The most tokens the penalties may look back over (they cost a look at each, every step).
    public static let maxRepeatLastN = 65536
    /// The range of a `logitBias` value (OpenAI's).
    public static let biasRange: ClosedRange<Float> = -100...100

    public static let maxStopStrings = 16
    public static let maxStopBytes = 256

    public init() {}

    public init(numTokens: Int, maxSeqLen: Int, topK: Int, temperature: Float, topP: Float, eosId: Int,
                seed: UInt64? = nil, stop: [String] = [], logprobs: Int? = nil) {
        self.numTokens = numTokens
        self.maxSeqLen = maxSeqLen
        self.topK = topK
        self.temperature = temperature
        self.topP = topP
        self.eosId = eosId
        self.seed = seed
        self.stop = stop
        self.logprobs = logprobs
    }

    /// A random seed for a run that was given none. Below 2^53, so that it
    /// survives a round trip through any JSON client (JavaScript included).
    public static func freshSeed() -> UInt64 { UInt64.random(in: 0..<(1 << 53)) }

    /// Checks every field against the model; the error names the field and what it allows.
    /// Without a model, only what holds for any model is checked (so bad usage
    /// is reported before any file is read).
    public func validate(for config: GPTConfig?) throws(SettingsError) {
        guard numTokens >= 0 else {
            throw SettingsError(field: "num_tokens", "must be 0 or more (got \(numTokens))")
        }
        guard maxSeqLen >= 1 else {
            throw SettingsError(field: "max_seq_len", "must be 1 or more (got \(maxSeqLen))")
        }
        if let config, maxSeqLen > config.maxT {
            throw SettingsError(field: "max_seq_len", "must be between 1 and the model's context length \(config.maxT) (got \(maxSeqLen))")
        }
        guard topK >= 0 else {
            throw SettingsError(field: "top_k", "must be 0 (all tokens) or more (got \(topK))")
        }
        guard temperature.isFinite && temperature >= 0 else {
            throw SettingsError(field: "temp", "must be a finite number >= 0, where 0 means greedy (got \(temperature))")
        }
        guard topP.isFinite && topP > 0 && topP <= 1 else {
            throw SettingsError(field: "top_p", "must be greater than 0 and at most 1, where 1 turns it off (got \(topP))")
        }
        guard eosId >= -1 else {
            throw SettingsError(field: "eos_id", "must be -1 (none) or a token id (got \(eosId))")
        }
        if let config, eosId >= config.vocabularySize {
            throw SettingsError(field: "eos_id", "must be -1 (none) or a token id from 0 to \(config.vocabularySize - 1) (got \(eosId))")
        }
        guard stop.count <= Self.maxStopStrings,
              stop.allSatisfy({ !$0.isEmpty && $0.utf8.count <= Self.maxStopBytes }) else {
            throw SettingsError(field: "stop", "must be at most \(Self.maxStopStrings) non-empty strings of at most \(Self.maxStopBytes) bytes each")
        }
        guard minP.isFinite && (0...1).contains(minP) else {
            throw SettingsError(field: "min_p", "must be a number from 0 to 1, where 0 turns it off (got \(minP))")
        }
        guard repeatPenalty.isFinite && repeatPenalty > 0 && repeatPenalty <= Self.repeatPenaltyRange.upperBound else {
            throw SettingsError(field: "repeat_penalty", "must be a number greater than 0 and at most \(Self.repeatPenaltyRange.upperBound), where 1 turns it off (got \(repeatPenalty))")
        }
        guard (0...Self.maxRepeatLastN).contains(repeatLastN) else {
            throw SettingsError(field: "repeat_last_n", "must be from 0 (no penalties) to \(Self.maxRepeatLastN) (got \(repeatLastN))")
        }
        for (field, value) in [("presence_penalty", presencePenalty), ("frequency_penalty", frequencyPenalty)]
        where !(value.isFinite && Self.penaltyRange.contains(value)) {
            throw SettingsError(field: field, "must be a number from -2 to 2, where 0 turns it off (got \(value))")
        }
        for (id, bias) in logitBias.sorted(by: { $0.key < $1.key }) {
            guard id >= 0, config.map({ id < $0.vocabularySize }) ?? true else {
                let bound = config.map { "0 to \($0.vocabularySize - 1)" } ?? "0 or more"
                throw SettingsError(field: "logit_bias", "keys must be token ids from \(bound) (got \(id))")
            }
            guard bias.isFinite && Self.biasRange.contains(bias) else {
                throw SettingsError(field: "logit_bias", "values must be numbers from -100 to 100, where -100 bans the token (got \(bias) for token \(id))")
            }
        }
        guard minTokens >= 0 else {
            throw SettingsError(field: "min_tokens", "must be 0 or more (got \(minTokens))")
        }
        if let logprobs, !(0...TokenLogprob.maxAlternatives).contains(logprobs) {
            throw SettingsError(field: "logprobs", "must be from 0 to \(TokenLogprob.maxAlternatives): the number of alternatives shown beside each token (got \(logprobs))")
        }
    }
}

/// A generation setting out of range; `field` uses the flag / JSON name.
public struct SettingsError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let problem: String
    public init(field: String, _ problem: String) {
        self.field = field
        self.problem = problem
    }
    public var description: String { "\(field) \(problem)" }
}

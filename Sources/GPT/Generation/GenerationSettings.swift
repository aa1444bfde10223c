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

    public static let maxStopStrings = 16
    public static let maxStopBytes = 256

    public init() {}

    public init(numTokens: Int, maxSeqLen: Int, topK: Int, temperature: Float, topP: Float, eosId: Int,
                seed: UInt64? = nil, stop: [String] = []) {
        self.numTokens = numTokens
        self.maxSeqLen = maxSeqLen
        self.topK = topK
        self.temperature = temperature
        self.topP = topP
        self.eosId = eosId
        self.seed = seed
        self.stop = stop
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

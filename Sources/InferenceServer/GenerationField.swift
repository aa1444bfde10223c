import GPT
import JSON

/// One field of a `POST /generate` body: its JSON name, its name on `/v1`
/// where OpenAI's API has it, its type, the values it allows, its default and
/// what it does. `GenerationField.all` is the one list of them: the request
/// parsers, the `defaults.*` settings, `GET /model` and
/// `gpt-server --print-request-fields` all read it, and `scripts/fields_test.py`
/// holds `openapi.yaml`, the README and the config files to it.
///
/// Defaults are the engine's (`GenerationSettings()`) and `GenerationDefaults`'s
/// own, never repeated here; ranges are checked again by `GenerationSettings.validate`.
struct GenerationField: Sendable {
    /// An upper bound: a number, or a value known only once the model is loaded
    /// or the server configured.
    enum Bound: Sendable, Equatable {
        case value(Double)
        /// The model's context length (`context_length` in `GET /model`).
        case contextLength
        /// The model's vocabulary size (`vocab_size`).
        case vocabularySize
        /// The largest token id, `vocab_size - 1`.
        case lastTokenId
        /// The `max_num_tokens` setting.
        case maxNumTokens
        /// The `max_delay_ms` setting.
        case maxDelayMs
    }

    /// What the field holds, and where a value given for it goes.
    enum Kind: Sendable {
        case integer(WritableKeyPath<GenerationDefaults, Int> & Sendable, minimum: Int, maximum: Bound)
        case number(WritableKeyPath<GenerationDefaults, Float> & Sendable, minimum: Double, exclusiveMinimum: Bool,
                    maximum: Bound)
        case boolean(WritableKeyPath<GenerationDefaults, Bool> & Sendable)
        /// Read by the request itself: it needs the tokenizer's vocabulary.
        case prompt
        case seed
        case stop
        case logitBias
        case logprobs
    }

    /// The field in OpenAI's API: its name, its default where OpenAI's differs
    /// from the engine's, and OpenAI's tighter maximum if any.
    struct OpenAI: Sendable {
        var name: String
        var defaultValue: JSONValue?
        var maximum: Double?
    }

    let name: String
    let kind: Kind
    /// The field on `/v1/completions` and chat (but chat reads `logprobs` its own way), read with this
    /// field's rules; nil where OpenAI has none.
    let openAI: OpenAI?
    let doc: String

    /// Whether `defaults.NAME` sets the value used when a request leaves the field out:
    /// every field with a plain value. Not the prompt, the seed (one default seed would
    /// make every request alike), stop strings, biases or log-probabilities.
    var configurable: Bool {
        switch kind {
        case .integer, .number, .boolean: true
        case .prompt, .seed, .stop, .logitBias, .logprobs: false
        }
    }

    /// The built-in default: the engine's or `GenerationDefaults`'s; nil for none (or required).
    var defaultValue: JSONValue? {
        let defaults = GenerationDefaults()
        switch kind {
        case .integer(let path, _, _): return .integer(defaults[keyPath: path])
        case .number(let path, _, _, _): return .number(Double(defaults[keyPath: path]))
        case .boolean(let path): return .bool(defaults[keyPath: path])
        case .prompt, .seed, .stop, .logitBias, .logprobs: return nil
        }
    }

    static let all: [GenerationField] = [
        GenerationField(name: "prompt", kind: .prompt, openAI: OpenAI(name: "prompt"),
                        doc: "Text to continue, or its token ids (required)."),
        GenerationField(name: "num_tokens", kind: .integer(\.settings.numTokens, minimum: 0, maximum: .maxNumTokens),
                        openAI: OpenAI(name: "max_tokens", defaultValue: .integer(16)), doc: "New tokens to generate at most."),
        GenerationField(name: "max_seq_len", kind: .integer(\.settings.maxSeqLen, minimum: 1, maximum: .contextLength),
                        openAI: nil, doc: "Tokens the model sees at once; older ones slide out of the window."),
        GenerationField(name: "top_k", kind: .integer(\.settings.topK, minimum: 0, maximum: .vocabularySize),
                        openAI: nil, doc: "Sample among the k most likely tokens; 0 = all, 1 = greedy."),
        GenerationField(name: "temp", kind: .number(\.settings.temperature, minimum: 0, exclusiveMinimum: false,
                                                    maximum: .value(1000)),
                        openAI: OpenAI(name: "temperature", maximum: 2), doc: "Softmax temperature; 0 = greedy."),
        GenerationField(name: "top_p", kind: .number(\.settings.topP, minimum: 0, exclusiveMinimum: true, maximum: .value(1)),
                        openAI: OpenAI(name: "top_p"), doc: "Nucleus sampling mass; 1 = off."),
        GenerationField(name: "eos_id", kind: .integer(\.settings.eosId, minimum: -1, maximum: .lastTokenId),
                        openAI: nil, doc: "Stop when this token id is drawn; -1 = never."),
        GenerationField(name: "seed", kind: .seed, openAI: OpenAI(name: "seed"),
                        doc: "Makes sampling reproducible; absent, the server draws one below 2^53."),
        GenerationField(name: "stop", kind: .stop, openAI: OpenAI(name: "stop"),
                        doc: "Stop strings: a string or a list; the match is not returned."),
        GenerationField(name: "min_p", kind: .number(\.settings.minP, minimum: 0, exclusiveMinimum: false, maximum: .value(1)),
                        openAI: OpenAI(name: "min_p"),
                        doc: "Drop tokens less likely than this fraction of the most likely one; 0 = off."),
        GenerationField(name: "repeat_penalty",
                        kind: .number(\.settings.repeatPenalty, minimum: 0, exclusiveMinimum: true,
                                      maximum: .value(Double(GenerationSettings.repeatPenaltyRange.upperBound))),
                        openAI: nil, doc: "Divide recent tokens' positive logits by this, multiply negative ones; 1 = off."),
        GenerationField(name: "repeat_last_n",
                        kind: .integer(\.settings.repeatLastN, minimum: 0,
                                       maximum: .value(Double(GenerationSettings.maxRepeatLastN))),
                        openAI: nil, doc: "How many of the latest tokens the penalties look at; 0 = none."),
        GenerationField(name: "presence_penalty",
                        kind: .number(\.settings.presencePenalty, minimum: Double(GenerationSettings.penaltyRange.lowerBound),
                                      exclusiveMinimum: false, maximum: .value(Double(GenerationSettings.penaltyRange.upperBound))),
                        openAI: OpenAI(name: "presence_penalty"),
                        doc: "Subtracted once from the logit of each token among the last repeat_last_n."),
        GenerationField(name: "frequency_penalty",
                        kind: .number(\.settings.frequencyPenalty, minimum: Double(GenerationSettings.penaltyRange.lowerBound),
                                      exclusiveMinimum: false, maximum: .value(Double(GenerationSettings.penaltyRange.upperBound))),
                        openAI: OpenAI(name: "frequency_penalty"),
                        doc: "Subtracted from a token's logit once per occurrence among the last repeat_last_n."),
        GenerationField(name: "logit_bias", kind: .logitBias, openAI: OpenAI(name: "logit_bias"),
                        doc: "Token ids (as strings) mapped to a bias from -100 to 100 added to their logits; -100 bans."),
        GenerationField(name: "ignore_eos", kind: .boolean(\.settings.ignoreEOS), openAI: OpenAI(name: "ignore_eos"),
                        doc: "Never draw eos_id."),
        GenerationField(name: "min_tokens", kind: .integer(\.settings.minTokens, minimum: 0, maximum: .maxNumTokens),
                        openAI: OpenAI(name: "min_tokens"), doc: "Do not draw eos_id before this many tokens."),
        GenerationField(name: "logprobs", kind: .logprobs, openAI: OpenAI(name: "logprobs"),
                        doc: "Each token's log-probability and this many most likely alternatives."),
        GenerationField(name: "stream", kind: .boolean(\.stream), openAI: OpenAI(name: "stream", defaultValue: .bool(false)),
                        doc: "Stream tokens as they are produced (true) or answer once at the end (false)."),
        GenerationField(name: "delay_ms", kind: .integer(\.delayMs, minimum: 0, maximum: .maxDelayMs),
                        openAI: nil, doc: "Pause after each token, in milliseconds."),
    ]

    /// The names a `/generate` body may use, in the table's order.
    static let names = all.map(\.name)
}

/// The values the bounds of `GenerationField` stand for, for one model and server.
struct FieldLimits: Sendable {
    var contextLength: Int
    var vocabularySize: Int
    var maxNumTokens: Int
    var maxDelayMs: Int

    init(contextLength: Int, vocabularySize: Int, maxNumTokens: Int, maxDelayMs: Int) {
        self.contextLength = contextLength
        self.vocabularySize = vocabularySize
        self.maxNumTokens = maxNumTokens
        self.maxDelayMs = maxDelayMs
    }

    init(model: GPTConfig, server: ServerConfig) {
        contextLength = model.maxT
        vocabularySize = model.vocabularySize
        maxNumTokens = server.maxNumTokens
        maxDelayMs = server.maxDelayMs
    }

    func resolve(_ bound: GenerationField.Bound) -> Double {
        switch bound {
        case .value(let value): value
        case .contextLength: Double(contextLength)
        case .vocabularySize: Double(vocabularySize)
        case .lastTokenId: Double(vocabularySize - 1)
        case .maxNumTokens: Double(maxNumTokens)
        case .maxDelayMs: Double(maxDelayMs)
        }
    }
}

extension GenerationField {
    /// Puts OpenAI's default, where it has its own, into `values`.
    func applyOpenAIDefault(to values: inout GenerationDefaults) {
        switch (kind, openAI?.defaultValue) {
        case (.integer(let path, _, _), .integer(let value)?): values[keyPath: path] = value
        case (.number(let path, _, _, _), .number(let value)?): values[keyPath: path] = Float(value)
        case (.boolean(let path), .bool(let value)?): values[keyPath: path] = value
        default: break
        }
    }

    /// Reads this field from `fields` under `key` (this field's name, or OpenAI's)
    /// into `values`; an absent field leaves the value there. The prompt is the
    /// request's own to read. `maximum` tightens the upper bound (OpenAI's).
    func read(from fields: RequestFields, key: String? = nil, into values: inout GenerationDefaults, limits: FieldLimits,
              maximum: Double? = nil) throws(APIError) {
        let key = key ?? name
        switch kind {
        case .integer(let path, let minimum, let bound):
            let upper = Int(min(limits.resolve(bound), maximum ?? .infinity))
            values[keyPath: path] = try fields.integer(key, default: values[keyPath: path], in: minimum...upper)
        case .number(let path, let minimum, let exclusiveMinimum, let bound):
            let upper = min(limits.resolve(bound), maximum ?? .infinity)
            values[keyPath: path] = Float(try fields.number(key, default: Double(values[keyPath: path]), in: minimum...upper,
                                                            openLow: exclusiveMinimum))
        case .boolean(let path):
            values[keyPath: path] = try fields.boolean(key, default: values[keyPath: path])
        case .prompt:
            break
        case .seed:
            values.settings.seed = try fields.seed(key)
        case .stop:
            values.settings.stop = try fields.stopStrings(key)
        case .logitBias:
            values.settings.logitBias = try fields.logitBias(key)
        case .logprobs:
            values.settings.logprobs = try fields.logprobs(key)
        }
    }
}

/// `gpt-server --print-request-fields`: the table as JSON, so that the
/// documents that cannot be generated from it (`openapi.yaml`, the README,
/// the config files) can be checked against it (`scripts/fields_test.py`).
public enum RequestFieldTable {
    /// One entry per `/generate` field, in the table's order. A bound that
    /// depends on the model has `maximum` null and `maximum_of` naming it; one
    /// set by a setting has the setting's built-in value and its name.
    public static func json() -> [UInt8] {
        JSONCoding.encode(GenerationField.all.map(Entry.init))
    }

    private struct Entry: Encodable {
        let field: GenerationField

        init(_ field: GenerationField) { self.field = field }

        enum CodingKeys: String, CodingKey {
            case name, type, minimum, exclusive_minimum, maximum, maximum_of, `default`, configurable, doc
            case openai, openai_default, openai_maximum
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            var type = "integer"
            var minimum: Double?
            var exclusiveMinimum = false
            var bound: GenerationField.Bound?
            var maximum: Number?
            switch field.kind {
            case .integer(_, let low, let high): (minimum, bound) = (Double(low), high)
            case .number(_, let low, let exclusive, let high): (type, minimum, exclusiveMinimum, bound) = ("number", low, exclusive, high)
            case .boolean: type = "boolean"
            case .prompt: type = "prompt"
            case .stop: type = "stop"
            case .logitBias: type = "logit_bias"
            case .seed: (minimum, maximum) = (0, .integer(Int.max))
            case .logprobs: (minimum, maximum) = (0, .integer(TokenLogprob.maxAlternatives))
            }
            let maximumOf: String? = switch bound {
            case .contextLength?: "context_length"
            case .vocabularySize?: "vocab_size"
            case .lastTokenId?: "vocab_size - 1"
            case .maxNumTokens?: "max_num_tokens"
            case .maxDelayMs?: "max_delay_ms"
            case .value?, nil: nil
            }
            // Model bounds have no number before a model is loaded; settings have their built-in value.
            let server = ServerConfig()
            let limits = FieldLimits(contextLength: 0, vocabularySize: 0, maxNumTokens: server.maxNumTokens,
                                     maxDelayMs: server.maxDelayMs)
            if let bound, maximumOf == nil || bound == .maxNumTokens || bound == .maxDelayMs {
                maximum = Number(limits.resolve(bound))
            }
            try container.encode(field.name, forKey: .name)
            try container.encode(type, forKey: .type)
            try container.encode(minimum.map(Number.init), forKey: .minimum)
            try container.encode(exclusiveMinimum, forKey: .exclusive_minimum)
            try container.encode(maximum, forKey: .maximum)
            try container.encode(maximumOf, forKey: .maximum_of)
            try container.encode(field.defaultValue.map(Scalar.init), forKey: .default)
            try container.encode(field.configurable, forKey: .configurable)
            try container.encode(field.doc, forKey: .doc)
            try container.encode(field.openAI?.name, forKey: .openai)
            try container.encode(field.openAI?.defaultValue.map(Scalar.init), forKey: .openai_default)
            try container.encode(field.openAI?.maximum.map(Number.init), forKey: .openai_maximum)
        }
    }

    /// A bound written as an integer when it is one (`1024`, not `1024.0`).
    private enum Number: Encodable {
        case integer(Int), number(Double)
        init(_ value: Double) { self = value == value.rounded() && abs(value) < 1e15 ? .integer(Int(value)) : .number(value) }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .integer(let value): try container.encode(value)
            case .number(let value): try container.encode(value)
            }
        }
    }

    /// A default value as JSON.
    private struct Scalar: Encodable {
        let value: JSONValue
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch value {
            case .integer(let number): try container.encode(number)
            case .number(let number): try container.encode(number)
            case .bool(let flag): try container.encode(flag)
            default: try container.encodeNil()
            }
        }
    }
}

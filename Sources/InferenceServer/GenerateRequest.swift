import GPT
import JSON

/// A validated `POST /generate` body: the `generate` flags as JSON fields,
/// with the same defaults (from the server's configuration).
struct GenerateRequest: Sendable, Equatable {
    var prompt: Prompt
    var settings: GenerationSettings
    var stream: Bool
    var delayMilliseconds: Int

    /// The fields a body may carry, for "unknown field" messages.
    static let fields = ["prompt", "num_tokens", "max_seq_len", "top_k", "temp", "top_p", "eos_id", "seed", "stop",
                         "min_p", "repeat_penalty", "repeat_last_n", "presence_penalty", "frequency_penalty",
                         "logit_bias", "ignore_eos", "min_tokens", "logprobs", "stream", "delay_ms"]

    init(prompt: Prompt, settings: GenerationSettings, stream: Bool, delayMilliseconds: Int = 0) {
        self.prompt = prompt
        self.settings = settings
        self.stream = stream
        self.delayMilliseconds = delayMilliseconds
    }

    /// Parses and checks `body` against the model and the server's limits.
    /// Every error names the field and what it allows.
    init(body: [UInt8], defaults: GenerationDefaults, maxNumTokens: Int, maxDelayMilliseconds: Int,
         config: GPTConfig) throws(APIError) {
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            throw .badRequest("the body is not valid JSON: \(error)", code: "invalid_json")
        }
        guard case .object(let object) = document else {
            throw .badRequest("the body must be a JSON object such as {\"prompt\": \"To be, or not to be:\"}; got \(document.kindName)")
        }
        var seen = Set<String>()
        for (key, _) in object.members {
            if key == "ckpt" || key == "tokenizer" {
                throw .badRequest("\(key) cannot be chosen per request: the model is fixed when the server starts", code: "model_fixed")
            }
            guard Self.fields.contains(key) else {
                throw .badRequest("unknown field \"\(key)\"; allowed fields: \(Self.fields.joined(separator: ", "))", code: "unknown_field")
            }
            guard seen.insert(key).inserted else { throw .badRequest("field \"\(key)\" appears twice") }
        }

        guard let promptValue = object["prompt"] else {
            throw .badRequest("field \"prompt\" is required: the text to continue")
        }
        prompt = try Prompt.parse(promptValue, field: "prompt", vocabularySize: config.vocabularySize)

        let fields = RequestFields(object: object, label: { "field \"\($0)\"" }, nullIsAbsent: false)
        var settings = GenerationSettings()
        settings.numTokens = try fields.integer("num_tokens", default: defaults.numTokens, in: 0...maxNumTokens)
        settings.maxSeqLen = try fields.integer("max_seq_len", default: defaults.maxSeqLen, in: 1...config.maxT)
        settings.topK = try fields.integer("top_k", default: defaults.topK, in: 0...config.vocabularySize)
        settings.temperature = Float(try fields.number("temp", default: Double(defaults.temp), in: 0...1000))
        settings.topP = Float(try fields.number("top_p", default: Double(defaults.topP), in: 0...1, openLow: true))
        settings.eosId = try fields.integer("eos_id", default: defaults.eosId, in: -1...(config.vocabularySize - 1))
        settings.seed = try fields.seed()
        settings.stop = try fields.stopStrings()
        try fields.steering(into: &settings, maxNumTokens: maxNumTokens, repeatPenalty: "repeat_penalty")
        settings.logprobs = try fields.logprobs()
        try Self.check(settings, for: config)
        self.settings = settings
        stream = try fields.boolean("stream", default: defaults.stream)
        delayMilliseconds = try fields.integer("delay_ms", default: defaults.delayMs, in: 0...maxDelayMilliseconds)
    }

    /// The engine's own check of the assembled settings: the last word on what is allowed.
    static func check(_ settings: GenerationSettings, for config: GPTConfig) throws(APIError) {
        do throws(SettingsError) {
            try settings.validate(for: config)
        } catch {
            throw .badRequest("field \"\(error.field)\" \(error.problem)", param: error.field)
        }
    }
}

import GPT
import JSON

/// A validated `POST /generate` body: the `generate` flags as JSON fields,
/// with the same defaults (from the server's configuration).
struct GenerateRequest: Sendable, Equatable {
    var prompt: String
    var settings: GenerationSettings
    var stream: Bool
    var delayMilliseconds: Int

    /// The fields a body may carry, for "unknown field" messages.
    static let fields = ["prompt", "num_tokens", "max_seq_len", "top_k", "temp", "top_p", "eos_id", "seed", "stop",
                         "stream", "delay_ms"]
    static let maxDelayMilliseconds = 10_000

    init(prompt: String, settings: GenerationSettings, stream: Bool, delayMilliseconds: Int = 0) {
        self.prompt = prompt
        self.settings = settings
        self.stream = stream
        self.delayMilliseconds = delayMilliseconds
    }

    /// Parses and checks `body` against the model and the server's limits.
    /// Every error names the field and what it allows.
    init(body: [UInt8], defaults: GenerationDefaults, maxNumTokens: Int, config: GPTConfig) throws(APIError) {
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
        guard case .string(let prompt) = promptValue, !prompt.isEmpty else {
            throw .badRequest("field \"prompt\" must be a non-empty string; got \(promptValue.kindName)")
        }
        self.prompt = prompt

        var settings = GenerationSettings()
        settings.numTokens = try Self.integer(object, "num_tokens", default: defaults.numTokens, in: 0...maxNumTokens)
        settings.maxSeqLen = try Self.integer(object, "max_seq_len", default: defaults.maxSeqLen, in: 1...config.maxT)
        settings.topK = try Self.integer(object, "top_k", default: defaults.topK, in: 0...config.vocabularySize)
        settings.temperature = Float(try Self.number(object, "temp", default: Double(defaults.temp), in: 0...1000, openLow: false))
        settings.topP = Float(try Self.number(object, "top_p", default: Double(defaults.topP), in: 0...1, openLow: true))
        settings.eosId = try Self.integer(object, "eos_id", default: defaults.eosId, in: -1...(config.vocabularySize - 1))
        settings.seed = try Self.seed(object["seed"])
        settings.stop = try Self.stopStrings(object["stop"])
        try Self.check(settings, for: config)
        self.settings = settings
        stream = try Self.boolean(object, "stream", default: defaults.stream)
        delayMilliseconds = try Self.integer(object, "delay_ms", default: defaults.delayMs, in: 0...Self.maxDelayMilliseconds)
    }

    /// A seed from 0 to Int.max; nil when absent (or JSON null).
    static func seed(_ field: JSONValue?) throws(APIError) -> UInt64? {
        guard let field, field.kindName != "null" else { return nil }
        guard case .integer(let value) = field, value >= 0 else {
            throw .badRequest("field \"seed\" must be an integer from 0 to \(Int.max); got \(field.description)", param: "seed")
        }
        return UInt64(value)
    }

    /// `stop`: a string or a list of strings (absent or null: none).
    static func stopStrings(_ field: JSONValue?) throws(APIError) -> [String] {
        let problem = "field \"stop\" must be a string or a list of at most \(GenerationSettings.maxStopStrings) strings"
        switch field {
        case nil, .null?: return []
        case .string(let text)?: return [text]
        case .array(let items)?:
            var strings: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw .badRequest("\(problem); got \(item.description) in the list", param: "stop") }
                strings.append(text)
            }
            return strings
        case let other?: throw .badRequest("\(problem); got \(other.description)", param: "stop")
        }
    }

    /// The engine's own check of the assembled settings: the last word on what is allowed.
    static func check(_ settings: GenerationSettings, for config: GPTConfig) throws(APIError) {
        do throws(SettingsError) {
            try settings.validate(for: config)
        } catch {
            throw .badRequest("field \"\(error.field)\" \(error.problem)", param: error.field)
        }
    }

    private static func integer(_ object: JSONObject, _ key: String, default value: Int, in range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let field = object[key] else { return value }
        guard case .integer(let number) = field, range.contains(number) else {
            throw .badRequest("field \"\(key)\" must be an integer from \(range.lowerBound) to \(range.upperBound); got \(field.description)")
        }
        return number
    }

    private static func number(_ object: JSONObject, _ key: String, default value: Double, in range: ClosedRange<Double>,
                               openLow: Bool) throws(APIError) -> Double {
        guard let field = object[key] else { return value }
        let number: Double
        switch field {
        case .integer(let integer): number = Double(integer)
        case .number(let double): number = double
        default: number = .nan
        }
        guard range.contains(number), !(openLow && number == range.lowerBound) else {
            let bounds = openLow ? "greater than \(range.lowerBound.formatted) and at most \(range.upperBound.formatted)"
                                 : "from \(range.lowerBound.formatted) to \(range.upperBound.formatted)"
            throw .badRequest("field \"\(key)\" must be a number \(bounds); got \(field.description)")
        }
        return number
    }

    private static func boolean(_ object: JSONObject, _ key: String, default value: Bool) throws(APIError) -> Bool {
        guard let field = object[key] else { return value }
        guard case .bool(let flag) = field else {
            throw .badRequest("field \"\(key)\" must be true or false; got \(field.description)")
        }
        return flag
    }
}

private extension Double {
    /// 1.0 as "1", 0.5 as "0.5".
    var formatted: String { self == rounded() ? String(Int(self)) : String(self) }
}

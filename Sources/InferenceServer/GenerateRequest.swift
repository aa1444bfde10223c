import GPT
import JSON

/// A validated `POST /generate` body: the `generate` flags as JSON fields
/// (`GenerationField.all`), with the server's defaults for those left out.
struct GenerateRequest: Sendable, Equatable {
    var prompt: Prompt
    var settings: GenerationSettings
    var stream: Bool
    var delayMilliseconds: Int

    init(prompt: Prompt, settings: GenerationSettings, stream: Bool, delayMilliseconds: Int = 0) {
        self.prompt = prompt
        self.settings = settings
        self.stream = stream
        self.delayMilliseconds = delayMilliseconds
    }

    /// Parses and checks `body` against the model and the server's limits.
    /// Every error names the field and what it allows.
    init(body: [UInt8], defaults: GenerationDefaults, limits: FieldLimits, config: GPTConfig) throws(APIError) {
        let object = try RequestBody.object(body, example: #"{"prompt": "To be, or not to be:"}"#)
        for (key, _) in object.members where key == "ckpt" || key == "tokenizer" {
            throw .badRequest("\(key) cannot be chosen per request: the model is fixed when the server starts", code: "model_fixed")
        }
        try RequestBody.requireKnown(object, fields: GenerationField.names)

        guard let promptValue = object["prompt"] else {
            throw .badRequest("field \"prompt\" is required: the text to continue")
        }
        prompt = try Prompt.parse(promptValue, field: "prompt", vocabularySize: config.vocabularySize)

        let fields = RequestFields(object: object, label: { "field \"\($0)\"" }, nullIsAbsent: false)
        var values = defaults
        for field in GenerationField.all {
            try field.read(from: fields, into: &values, limits: limits)
        }
        try Self.check(values.settings, for: config)
        settings = values.settings
        stream = values.stream
        delayMilliseconds = values.delayMs
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

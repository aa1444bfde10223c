import Foundation
import GPT
import JSON

/// `POST /v1/completions` in OpenAI's shape, so existing clients work unchanged.
///
/// OpenAI's sampling has no top_k, so these requests sample from all tokens
/// (top_k 0) and see the model's whole context (max_seq_len = context length).
struct OpenAICompletionRequest {
    /// The settings of every choice; its prompt is the first of `prompts`.
    var generate: GenerateRequest
    /// One or more prompts (a batch), each completed `n` times.
    var prompts: [Prompt]
    var n: Int
    var includeUsage: Bool
    /// Return the prompt before the completion (with its tokens' log-probabilities when `logprobs` is set).
    var echo: Bool

    /// `/generate`'s fields that OpenAI's API has (under its names), and OpenAI's own.
    static let fields = ["model"] + GenerationField.all.compactMap(\.openAI?.name)
        + ["stream_options", "n", "best_of", "echo", "suffix", "user"]

    /// `endOfText`: the tokenizer's end-of-text id, if it has one; drawing it ends the
    /// completion with finish_reason "stop", as OpenAI's models do.
    init(body: [UInt8], modelID: String, maxNumTokens: Int, maxChoices: Int, config: GPTConfig,
         endOfText: Int?) throws(APIError) {
        let object = try RequestBody.object(body, example: #"{"model": "\#(modelID)", "prompt": "To be"}"#)
        try RequestBody.requireKnown(object, fields: Self.fields)
        try self.init(object: object, modelID: modelID, maxNumTokens: maxNumTokens, maxChoices: maxChoices, config: config,
                      endOfText: endOfText)
    }

    /// From an object already checked for unknown and repeated fields.
    init(object: JSONObject, modelID: String, maxNumTokens: Int, maxChoices: Int, config: GPTConfig,
         endOfText: Int?) throws(APIError) {
        if let user = object["user"], user.stringValue == nil {
            throw .badRequest("user must be a string; got \(user.description)", param: "user")
        }
        guard case .string(let model)? = object["model"] else {
            throw .badRequest("field \"model\" is required: a string naming the model (\"\(modelID)\")", param: "model")
        }
        guard model == modelID else {
            throw APIError(status: 404, code: "model_not_found",
                           message: "the model \"\(model)\" does not exist; this server serves \"\(modelID)\"", param: "model")
        }
        guard let promptValue = object["prompt"] else {
            throw .badRequest("field \"prompt\" is required: the text (or token ids) to continue", param: "prompt")
        }
        prompts = try Prompt.parseBatch(promptValue, field: "prompt", vocabularySize: config.vocabularySize)
        try Self.refuseUnsupported(object)

        let fields = RequestFields(object: object, label: { $0 }, nullIsAbsent: true)
        n = try fields.integer("n", default: 1, in: 1...maxChoices)
        guard prompts.count * n <= maxChoices else {
            throw .badRequest("\(prompts.count) prompts × n = \(n) asks for \(prompts.count * n) completions; at most \(maxChoices) (max_choices) per request",
                              param: prompts.count > 1 ? "prompt" : "n")
        }
        // The engine's defaults, or OpenAI's where it has its own; no `defaults.*` setting applies.
        var values = GenerationDefaults()
        values.settings.topK = 0
        values.settings.maxSeqLen = config.maxT
        if let endOfText, endOfText < config.vocabularySize { values.settings.eosId = endOfText }
        let limits = FieldLimits(contextLength: config.maxT, vocabularySize: config.vocabularySize,
                                 maxNumTokens: maxNumTokens, maxDelayMs: 0)
        for field in GenerationField.all {
            guard let openAI = field.openAI else { continue }
            field.applyOpenAIDefault(to: &values)
            try field.read(from: fields, key: openAI.name, into: &values, limits: limits, maximum: openAI.maximum)
        }
        var settings = values.settings
        echo = try fields.boolean("echo", default: false)
        settings.scorePrompt = echo
        try GenerateRequest.check(settings, for: config)

        let stream = values.stream
        includeUsage = false
        switch object["stream_options"] {
        case nil, .null?: break
        case .object(let options)?:
            for (key, _) in options.members where key != "include_usage" {
                throw .badRequest("stream_options.\(key) is not supported (only include_usage)", param: "stream_options")
            }
            includeUsage = try RequestFields(object: options, label: { "stream_options.\($0)" }, nullIsAbsent: true)
                .boolean("include_usage", default: false)
        case let other?:
            throw .badRequest("stream_options must be an object such as {\"include_usage\": true}; got \(other.description)",
                              param: "stream_options")
        }
        generate = GenerateRequest(prompt: prompts[0], settings: settings, stream: stream)
    }

    /// Options this server does not implement get a clear 400, never a silent default.
    private static func refuseUnsupported(_ object: JSONObject) throws(APIError) {
        let unsupported: [(String, String, (JSONValue) -> Bool)] = [
            ("best_of", "best_of > 1 is not supported", { if case .integer(1) = $0 { true } else { false } }),
            ("suffix", "suffix is not supported", { _ in false }),
        ]
        for (field, message, allowed) in unsupported {
            guard let value = object[field], value.kindName != "null" else { continue }
            if !allowed(value) { throw .badRequest(message, code: "unsupported_parameter", param: field) }
        }
    }
}

extension FinishReason {
    /// OpenAI knows two reasons: the length limit, or a natural stop (eos or a stop string).
    var openAI: String {
        switch self {
        case .length, .cancelled: "length"
        case .eos, .stop: "stop"
        }
    }
}

/// One completion in OpenAI's shape, whole or as a stream chunk.
struct OpenAICompletion: Encodable {
    struct Choice: Encodable {
        let text: String
        var index = 0
        var logprobs: OpenAILogprobs?
        let finish_reason: String?

        /// Written by hand so that absent `logprobs` and a streaming chunk's `finish_reason` appear as null.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(text, forKey: .text)
            try container.encode(index, forKey: .index)
            try container.encode(logprobs, forKey: .logprobs)
            try container.encode(finish_reason, forKey: .finish_reason)
        }
        enum CodingKeys: CodingKey { case text, index, logprobs, finish_reason }
    }
    let id: String
    let object = "text_completion"
    let created: Int
    let model: String
    let choices: [Choice]
    let usage: Usage?
}

/// OpenAI's legacy `logprobs` object: parallel lists, one entry per token.
///
/// `tokens` are the tokens' pieces (`Tokenizer.piece`); `token_logprobs` the
/// raw distribution's log-probabilities (null for the first prompt token,
/// which nothing predicts); `top_logprobs` maps the pieces of the `logprobs`
/// most likely tokens to theirs; `text_offset` is where each token's text
/// begins, in Unicode scalars from the start of the prompt (the prompt counts
/// even when it is not echoed, as in OpenAI's API).
struct OpenAILogprobs: Encodable {
    var tokens: [String] = []
    var token_logprobs: [Double?] = []
    var top_logprobs: [[String: Double]?] = []
    var text_offset: [Int] = []

    /// The prompt's tokens with their scores, offsets counted from 0.
    init(prompt: [Int], scores: [TokenLogprob?], tokenizer: Tokenizer) {
        var decoder = UTF8StreamDecoder()
        var offset = 0
        for (id, score) in zip(prompt, scores) {
            append(id: id, score: score, offset: offset, tokenizer: tokenizer)
            offset += decoder.append(tokenizer.tokenBytes(id)).unicodeScalars.count
        }
    }

    /// Generated tokens (those with a log-probability), after a prompt of `promptScalars` Unicode scalars.
    init(tokens: [GeneratedToken], promptScalars: Int, tokenizer: Tokenizer) {
        for token in tokens {
            guard let score = token.logprob else { continue }
            append(id: token.id, score: score, offset: promptScalars + token.textOffset, tokenizer: tokenizer)
        }
    }

    mutating func append(contentsOf other: OpenAILogprobs) {
        tokens += other.tokens
        token_logprobs += other.token_logprobs
        top_logprobs += other.top_logprobs
        text_offset += other.text_offset
    }

    private mutating func append(id: Int, score: TokenLogprob?, offset: Int, tokenizer: Tokenizer) {
        tokens.append(tokenizer.piece(id))
        token_logprobs.append(score?.logprob)
        top_logprobs.append(score.map { score in
            Dictionary(score.top.map { (tokenizer.piece($0.id), $0.logprob) }, uniquingKeysWith: max)
        })
        text_offset.append(offset)
    }
}

/// Server-sent events as OpenAI streams them: `data: {chunk}` per token, a
/// last chunk with the finish reason, optionally a usage chunk, then `data: [DONE]`.
/// With `echo`, the first chunk is the prompt. Several choices (`n`, batched
/// prompts) each have an encoding with their own `index`, and `end` once.
struct OpenAIStream: ChoiceStreamEncoding {
    let id: String
    let created: Int
    let model: String
    let includeUsage: Bool
    var index = 0
    let prompt: String
    let promptTokens: [Int]
    let logprobs: Bool
    let tokenizer: Tokenizer

    var contentType: String { "text/event-stream" }
    var keepAlive: [UInt8]? { Array(": queued\n\n".utf8) }

    func scored(_ scores: [TokenLogprob?]) -> [UInt8] {
        let logprobs = logprobs ? OpenAILogprobs(prompt: promptTokens, scores: scores, tokenizer: tokenizer) : nil
        return event(chunk([.init(text: prompt, index: index, logprobs: logprobs, finish_reason: nil)], usage: nil))
    }

    /// A token that completes no text still gets its chunk when log-probabilities are asked for.
    func token(_ token: GeneratedToken) -> [UInt8] {
        guard logprobs else {
            return token.text.isEmpty ? [] : event(chunk([.init(text: token.text, index: index, finish_reason: nil)], usage: nil))
        }
        let logprobs = OpenAILogprobs(tokens: [token], promptScalars: prompt.unicodeScalars.count, tokenizer: tokenizer)
        return event(chunk([.init(text: token.text, index: index, logprobs: logprobs, finish_reason: nil)], usage: nil))
    }

    func final(_ summary: JobSummary) -> [UInt8] {
        finish(summary) + end(usage: summary.usage)
    }

    /// This choice's last chunk: leftover text and the finish reason.
    func finish(_ summary: JobSummary) -> [UInt8] {
        event(chunk([.init(text: summary.trailingText, index: index, finish_reason: summary.finishReason.openAI)], usage: nil))
    }

    /// The end of the whole stream: the usage chunk if asked for, then `[DONE]`.
    func end(usage: GenerationUsage) -> [UInt8] {
        (includeUsage ? event(chunk([], usage: Usage(usage))) : []) + Array("data: [DONE]\n\n".utf8)
    }

    private func chunk(_ choices: [OpenAICompletion.Choice], usage: Usage?) -> OpenAICompletion {
        OpenAICompletion(id: id, created: created, model: model, choices: choices, usage: usage)
    }

    private func event(_ completion: OpenAICompletion) -> [UInt8] {
        Array("data: ".utf8) + JSONCoding.encode(completion) + Array("\n\n".utf8)
    }
}

/// `GET /v1/models`: the one model this server serves.
struct OpenAIModelList: Encodable {
    struct Entry: Encodable {
        let id: String
        let object = "model"
        let created: Int
        let owned_by = "gpt-swift"
    }
    let object = "list"
    let data: [Entry]
}

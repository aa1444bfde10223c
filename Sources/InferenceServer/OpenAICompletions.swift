import Foundation
import GPT
import JSON

/// `POST /v1/completions` in OpenAI's shape, so existing clients work unchanged.
///
/// OpenAI's sampling has no top_k, so these requests sample from all tokens
/// (top_k 0) and see the model's whole context (max_seq_len = context length).
struct OpenAICompletionRequest {
    var generate: GenerateRequest
    var includeUsage: Bool

    static let fields = ["model", "prompt", "max_tokens", "temperature", "top_p", "stop", "seed", "stream",
                         "stream_options", "n", "best_of", "logprobs", "echo", "presence_penalty",
                         "frequency_penalty", "logit_bias", "suffix", "user"]
    static let defaultMaxTokens = 16

    /// `endOfText`: the tokenizer's end-of-text id, if it has one; drawing it ends the
    /// completion with finish_reason "stop", as OpenAI's models do.
    init(body: [UInt8], modelID: String, maxNumTokens: Int, config: GPTConfig, endOfText: Int?) throws(APIError) {
        let object: JSONObject
        do {
            guard case .object(let parsed) = try JSONValue.parse(body) else {
                throw APIError.badRequest("the body must be a JSON object")
            }
            object = parsed
        } catch let error as APIError {
            throw error
        } catch {
            throw .badRequest("the body is not valid JSON: \(error)", code: "invalid_json")
        }
        var seen = Set<String>()
        for (key, _) in object.members {
            guard Self.fields.contains(key) else {
                throw .badRequest("unknown field \"\(key)\"; supported: \(Self.fields.joined(separator: ", "))",
                                  code: "unknown_field", param: key)
            }
            guard seen.insert(key).inserted else { throw .badRequest("field \"\(key)\" appears twice", param: key) }
        }
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
        guard case .string(let prompt)? = object["prompt"], !prompt.isEmpty else {
            throw .badRequest("field \"prompt\" must be a non-empty string (lists of prompts and token arrays are not supported)",
                              param: "prompt")
        }
        try Self.refuseUnsupported(object)

        let fields = RequestFields(object: object, label: { $0 }, nullIsAbsent: true)
        var settings = GenerationSettings()
        settings.topK = 0
        settings.maxSeqLen = config.maxT
        settings.numTokens = try fields.integer("max_tokens", default: Self.defaultMaxTokens, in: 0...maxNumTokens)
        settings.temperature = Float(try fields.number("temperature", default: 1, in: 0...2))
        settings.topP = Float(try fields.number("top_p", default: 1, in: 0...1, openLow: true))
        if let endOfText, endOfText < config.vocabularySize { settings.eosId = endOfText }
        settings.seed = try fields.seed()
        settings.stop = try fields.stopStrings()
        try GenerateRequest.check(settings, for: config)

        let stream = try fields.boolean("stream", default: false)
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
        generate = GenerateRequest(prompt: prompt, settings: settings, stream: stream)
    }

    /// Options this server does not implement get a clear 400, never a silent default.
    private static func refuseUnsupported(_ object: JSONObject) throws(APIError) {
        let unsupported: [(String, String, (JSONValue) -> Bool)] = [
            ("n", "only one completion per request (n = 1) is supported", { if case .integer(1) = $0 { true } else { false } }),
            ("best_of", "best_of > 1 is not supported", { if case .integer(1) = $0 { true } else { false } }),
            ("logprobs", "logprobs are not supported", { _ in false }),
            ("echo", "echo is not supported", { if case .bool(false) = $0 { true } else { false } }),
            ("presence_penalty", "presence_penalty is not supported (only 0)", isZero),
            ("frequency_penalty", "frequency_penalty is not supported (only 0)", isZero),
            ("logit_bias", "logit_bias is not supported", { if case .object(let o) = $0 { o.members.isEmpty } else { false } }),
            ("suffix", "suffix is not supported", { _ in false }),
        ]
        for (field, message, allowed) in unsupported {
            guard let value = object[field], value.kindName != "null" else { continue }
            if !allowed(value) { throw .badRequest(message, code: "unsupported_parameter", param: field) }
        }
    }

    private static func isZero(_ value: JSONValue) -> Bool {
        switch value {
        case .integer(0): true
        case .number(let number): number == 0
        default: false
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
        let finish_reason: String?

        /// Written by hand so that `logprobs` and a streaming chunk's `finish_reason` appear as null.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(text, forKey: .text)
            try container.encode(0, forKey: .index)
            try container.encodeNil(forKey: .logprobs)
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

/// Server-sent events as OpenAI streams them: `data: {chunk}` per token, a
/// last chunk with the finish reason, optionally a usage chunk, then `data: [DONE]`.
struct OpenAIStream: StreamEncoding {
    let id: String
    let created: Int
    let model: String
    let includeUsage: Bool

    var contentType: String { "text/event-stream" }
    var keepAlive: [UInt8]? { Array(": queued\n\n".utf8) }

    func token(_ token: GeneratedToken) -> [UInt8] {
        token.text.isEmpty ? [] : event(chunk([.init(text: token.text, finish_reason: nil)], usage: nil))
    }

    func final(_ summary: JobSummary) -> [UInt8] {
        var bytes = event(chunk([.init(text: summary.trailingText, finish_reason: summary.finishReason.openAI)], usage: nil))
        if includeUsage { bytes += event(chunk([], usage: Usage(summary.usage))) }
        return bytes + Array("data: [DONE]\n\n".utf8)
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

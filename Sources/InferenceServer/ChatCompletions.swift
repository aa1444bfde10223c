import Foundation
import GPT
import JSON
import Synchronization

/// The plain chat template for base models: each message as its role's prefix,
/// its content and the separator, then the assistant's prefix (without its
/// trailing spaces, which a byte-level BPE model expects on the next word) for
/// the model to continue. The user's prefix after a separator is the turn
/// marker: a default stop string, so that the reply ends where the model
/// starts writing the user's next turn.
struct ChatTemplate: Sendable, Equatable {
    var systemPrefix = ""
    var userPrefix = "User: "
    var assistantPrefix = "Assistant: "
    var separator = "\n"

    static let roles = ["system", "user", "assistant"]

    func render(_ messages: [(role: String, content: String)]) -> String {
        var text = ""
        for message in messages {
            let prefix = switch message.role {
            case "system": systemPrefix
            case "user": userPrefix
            default: assistantPrefix
            }
            text += prefix + message.content + separator
        }
        return text + assistantPrefix.trimmingTrailingWhitespace
    }

    /// Where the model would begin the user's next turn.
    var turnMarker: String { separator + userPrefix.trimmingTrailingWhitespace }
}

private extension String {
    var trimmingTrailingWhitespace: String {
        String(unicodeScalars.reversed().drop { $0.properties.isWhitespace }.reversed().map(Character.init))
    }
}

/// `POST /v1/chat/completions`: the messages rendered by the template into a
/// prompt, then a completion with the same fields and sampling as
/// `/v1/completions` (OpenAI's chat names where they differ).
struct ChatCompletionRequest {
    var completion: OpenAICompletionRequest
    /// Whether each choice carries its tokens' log-probabilities (`logprobs: true`).
    var logprobs: Bool

    /// The completion's sampling fields (`GenerationField.all`), but messages
    /// for the prompt, and chat's own `logprobs` (a boolean) with `top_logprobs`.
    static let fields = ["model", "messages"] + GenerationField.all.compactMap(\.openAI?.name).filter { $0 != "prompt" }
        + ["max_completion_tokens", "top_logprobs", "stream_options", "n", "user"]

    init(body: [UInt8], template: ChatTemplate, modelID: String, maxNumTokens: Int, maxChoices: Int, config: GPTConfig,
         endOfText: Int?) throws(APIError) {
        let object = try RequestBody.object(body, example: #"{"model": "\#(modelID)", "messages": [{"role": "user", "content": "Hello"}]}"#)
        try RequestBody.requireKnown(object, fields: Self.fields)
        guard case .array(let items)? = object["messages"], !items.isEmpty else {
            throw .badRequest("field \"messages\" is required: a non-empty list of {\"role\", \"content\"} objects",
                              param: "messages")
        }
        var messages: [(role: String, content: String)] = []
        for (index, item) in items.enumerated() {
            messages.append(try Self.message(item, index: index))
        }
        if object["max_tokens"] != nil && object["max_completion_tokens"] != nil {
            throw .badRequest("give max_tokens or max_completion_tokens, not both", param: "max_completion_tokens")
        }
        let fields = RequestFields(object: object, label: { $0 }, nullIsAbsent: true)
        logprobs = try fields.boolean("logprobs", default: false)
        let alternatives = try fields.logprobs("top_logprobs")
        if alternatives != nil && !logprobs {
            throw .badRequest("top_logprobs needs logprobs: true (it is how many alternatives to show beside each token's log-probability)",
                              param: "top_logprobs")
        }
        var stops = try fields.stopStrings()
        guard stops.count < GenerationSettings.maxStopStrings else {
            throw .badRequest("stop must be at most \(GenerationSettings.maxStopStrings - 1) strings here: the chat template's turn marker takes one place",
                              param: "stop")
        }
        stops.append(template.turnMarker)
        // The chat body becomes a completion body: the rendered prompt, OpenAI's
        // completion names, the turn marker among the stop strings.
        // `logprobs: true` becomes the completion's `logprobs: top_logprobs` (0 without it).
        var members = object.members.filter {
            !["messages", "max_completion_tokens", "stop", "logprobs", "top_logprobs"].contains($0.key)
        }
        members.append(("prompt", .string(template.render(messages))))
        if logprobs { members.append(("logprobs", .integer(alternatives ?? 0))) }
        if let maxCompletionTokens = object["max_completion_tokens"] { members.append(("max_tokens", maxCompletionTokens)) }
        members.append(("stop", .array(stops.map { .string($0) })))
        completion = try OpenAICompletionRequest(object: JSONObject(members: members), modelID: modelID,
                                                 maxNumTokens: maxNumTokens, maxChoices: maxChoices, config: config,
                                                 endOfText: endOfText)
    }

    private static func message(_ item: JSONValue, index: Int) throws(APIError) -> (role: String, content: String) {
        let param = "messages[\(index)]"
        guard case .object(let message) = item else {
            throw .badRequest("\(param) must be an object such as {\"role\": \"user\", \"content\": \"Hello\"}; got \(item.kindName)",
                              param: "messages")
        }
        for (key, _) in message.members where !["role", "content", "name"].contains(key) {
            throw .badRequest("\(param) has the unknown field \"\(key)\"; a message has role, content and optionally name",
                              param: "messages")
        }
        guard case .string(let role)? = message["role"], roles.contains(role) else {
            throw .badRequest("\(param).role must be one of \(roles.joined(separator: ", ")); got \(message["role"]?.description ?? "nothing")",
                              param: "messages")
        }
        guard case .string(let content)? = message["content"] else {
            throw .badRequest("\(param).content must be a string (lists of content parts are not supported); got \(message["content"]?.kindName ?? "nothing")",
                              param: "messages")
        }
        return (role, content)
    }

    private static let roles = ChatTemplate.roles
}

/// A chat completion in OpenAI's shape (`stream` false).
struct ChatCompletion: Encodable {
    struct Message: Encodable {
        let role = "assistant"
        let content: String
    }
    struct Choice: Encodable {
        let index: Int
        let message: Message
        let logprobs: ChatLogprobs?
        let finish_reason: String

        /// Written by hand so that absent `logprobs` appear as null.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(message, forKey: .message)
            try container.encode(logprobs, forKey: .logprobs)
            try container.encode(finish_reason, forKey: .finish_reason)
        }
        enum CodingKeys: CodingKey { case index, message, logprobs, finish_reason }
    }
    let id: String
    let object = "chat.completion"
    let created: Int
    let model: String
    let choices: [Choice]
    let usage: Usage
}

/// A chat choice's log-probabilities in OpenAI's chat shape: one entry per
/// generated token (the whitespace the reply's text drops at its start
/// included), each with its piece (`Tokenizer.piece`), its raw log-probability,
/// its bytes, and the `top_logprobs` most likely tokens with theirs.
struct ChatLogprobs: Encodable {
    struct Alternative: Encodable {
        let token: String
        let logprob: Double
        let bytes: [UInt8]

        init(id: Int, logprob: Double, tokenizer: Tokenizer) {
            token = tokenizer.piece(id)
            self.logprob = logprob
            bytes = tokenizer.tokenBytes(id)
        }
    }
    struct Entry: Encodable {
        let token: String
        let logprob: Double
        let bytes: [UInt8]
        let top_logprobs: [Alternative]
    }
    let content: [Entry]

    init(_ scores: [TokenLogprob], tokenizer: Tokenizer) {
        content = scores.map { score in
            let token = Alternative(id: score.id, logprob: score.logprob, tokenizer: tokenizer)
            return Entry(token: token.token, logprob: token.logprob, bytes: token.bytes,
                         top_logprobs: score.top.map { Alternative(id: $0.id, logprob: $0.logprob, tokenizer: tokenizer) })
        }
    }

    /// OpenAI's object also has `refusal`, always null here.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(content, forKey: .content)
        try container.encodeNil(forKey: .refusal)
    }
    enum CodingKeys: CodingKey { case content, refusal }
}

/// The reply's text as a chat client wants it: without the whitespace the
/// model writes after the template's assistant prefix.
enum ChatReply {
    static func trimmed(_ text: String) -> String {
        String(text.unicodeScalars.drop { $0.properties.isWhitespace }.map(Character.init))
    }
}

/// Server-sent events as OpenAI streams a chat: a first chunk with the role,
/// then content deltas, then a chunk with the finish reason, optionally the
/// usage chunk, then `data: [DONE]`. Leading whitespace of the reply is dropped.
/// With log-probabilities, every token gets a chunk with its entry, even one
/// that adds no text.
struct ChatStream: ChoiceStreamEncoding {
    let id: String
    let created: Int
    let model: String
    let includeUsage: Bool
    var index = 0
    /// Pieces and bytes of tokens, for log-probabilities.
    let tokenizer: Tokenizer
    private let progress = Progress()

    /// Whether the role chunk went out, and whether text did (until then,
    /// whitespace is dropped). One stream loop uses an encoding, but the protocol asks for Sendable.
    private final class Progress: Sendable {
        let state = Mutex((opened: false, begun: false))
    }

    init(id: String, created: Int, model: String, includeUsage: Bool, index: Int, tokenizer: Tokenizer) {
        self.id = id
        self.created = created
        self.model = model
        self.includeUsage = includeUsage
        self.index = index
        self.tokenizer = tokenizer
    }

    var contentType: String { "text/event-stream" }
    var keepAlive: [UInt8]? { Array(": queued\n\n".utf8) }

    func token(_ token: GeneratedToken) -> [UInt8] {
        let (opening, text) = progress.state.withLock { state -> (Bool, String) in
            let opening = !state.opened
            state.opened = true
            if state.begun { return (opening, token.text) }
            let trimmed = ChatReply.trimmed(token.text)
            state.begun = !trimmed.isEmpty
            return (opening, trimmed)
        }
        // The role chunk opens every choice.
        let role = opening ? event(ChatChunk.Delta(role: "assistant", content: ""), finish: nil) : []
        if let score = token.logprob {
            return role + event(ChatChunk.Delta(role: nil, content: text), finish: nil,
                                logprobs: ChatLogprobs([score], tokenizer: tokenizer))
        }
        return role + (text.isEmpty ? [] : event(ChatChunk.Delta(role: nil, content: text), finish: nil))
    }

    func final(_ summary: JobSummary) -> [UInt8] {
        finish(summary) + end(usage: summary.usage)
    }

    func finish(_ summary: JobSummary) -> [UInt8] {
        let trailing = token(GeneratedToken(id: 0, text: summary.trailingText))
        return trailing + event(ChatChunk.Delta(role: nil, content: nil), finish: summary.finishReason.openAI)
    }

    func end(usage: GenerationUsage) -> [UInt8] {
        var bytes: [UInt8] = []
        if includeUsage {
            bytes += frame(ChatChunk(id: id, created: created, model: model, choices: [], usage: Usage(usage)))
        }
        return bytes + Array("data: [DONE]\n\n".utf8)
    }

    private func event(_ delta: ChatChunk.Delta, finish: String?, logprobs: ChatLogprobs? = nil) -> [UInt8] {
        frame(ChatChunk(id: id, created: created, model: model,
                        choices: [.init(index: index, delta: delta, logprobs: logprobs, finish_reason: finish)], usage: nil))
    }

    private func frame(_ chunk: ChatChunk) -> [UInt8] {
        Array("data: ".utf8) + JSONCoding.encode(chunk) + Array("\n\n".utf8)
    }
}

/// One streamed chat chunk.
struct ChatChunk: Encodable {
    struct Delta: Encodable {
        let role: String?
        let content: String?
    }
    struct Choice: Encodable {
        let index: Int
        let delta: Delta
        let logprobs: ChatLogprobs?
        let finish_reason: String?

        /// Written by hand so that absent `logprobs` and an open choice's `finish_reason` appear as null.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(delta, forKey: .delta)
            try container.encode(logprobs, forKey: .logprobs)
            try container.encode(finish_reason, forKey: .finish_reason)
        }
        enum CodingKeys: CodingKey { case index, delta, logprobs, finish_reason }
    }
    let id: String
    let object = "chat.completion.chunk"
    let created: Int
    let model: String
    let choices: [Choice]
    let usage: Usage?
}

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

    static let fields = ["model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
                         "seed", "stream", "stream_options", "n", "presence_penalty", "frequency_penalty", "logit_bias",
                         "user", "min_p", "min_tokens", "ignore_eos", "logprobs"]

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
        if case .bool(true)? = object["logprobs"] {
            throw .badRequest("logprobs are not supported on chat completions; use /v1/completions with logprobs",
                              code: "unsupported_parameter", param: "logprobs")
        }
        if object["max_tokens"] != nil && object["max_completion_tokens"] != nil {
            throw .badRequest("give max_tokens or max_completion_tokens, not both", param: "max_completion_tokens")
        }
        let fields = RequestFields(object: object, label: { $0 }, nullIsAbsent: true)
        var stops = try fields.stopStrings()
        guard stops.count < GenerationSettings.maxStopStrings else {
            throw .badRequest("stop must be at most \(GenerationSettings.maxStopStrings - 1) strings here: the chat template's turn marker takes one place",
                              param: "stop")
        }
        stops.append(template.turnMarker)
        // The chat body becomes a completion body: the rendered prompt, OpenAI's
        // completion names, the turn marker among the stop strings.
        var members = object.members.filter { !["messages", "max_completion_tokens", "stop", "logprobs"].contains($0.key) }
        members.append(("prompt", .string(template.render(messages))))
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
        let finish_reason: String

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(message, forKey: .message)
            try container.encodeNil(forKey: .logprobs)
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
struct ChatStream: ChoiceStreamEncoding {
    let id: String
    let created: Int
    let model: String
    let includeUsage: Bool
    var index = 0
    private let progress = Progress()

    /// Whether the role chunk went out, and whether text did (until then,
    /// whitespace is dropped). One stream loop uses an encoding, but the protocol asks for Sendable.
    private final class Progress: Sendable {
        let state = Mutex((opened: false, begun: false))
    }

    init(id: String, created: Int, model: String, includeUsage: Bool, index: Int) {
        self.id = id
        self.created = created
        self.model = model
        self.includeUsage = includeUsage
        self.index = index
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

    private func event(_ delta: ChatChunk.Delta, finish: String?) -> [UInt8] {
        frame(ChatChunk(id: id, created: created, model: model,
                        choices: [.init(index: index, delta: delta, finish_reason: finish)], usage: nil))
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
        let finish_reason: String?

        /// Written by hand so that `logprobs` and an open choice's `finish_reason` appear as null.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(delta, forKey: .delta)
            try container.encodeNil(forKey: .logprobs)
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

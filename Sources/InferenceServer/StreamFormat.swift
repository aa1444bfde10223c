import Foundation
import GPT
import JSON

/// Turns a generation's events into the bytes of one streamed response format.
protocol StreamEncoding: Sendable {
    var contentType: String { get }
    /// The prompt's scores (`echo`), before any token.
    func scored(_ scores: [TokenLogprob?]) -> [UInt8]
    func token(_ token: GeneratedToken) -> [UInt8]
    /// The end of the stream: leftover text and any summary.
    func final(_ summary: JobSummary) -> [UInt8]
    /// Sent while a request waits, so proxies and clients keep the stream open; nil for none.
    var keepAlive: [UInt8]? { get }
}

/// One choice of several in one stream (`n`, batched prompts): its chunks
/// carry `index`; each choice finishes on its own and the stream ends once.
protocol ChoiceStreamEncoding: StreamEncoding {
    var index: Int { get }
    /// This choice's last chunk.
    func finish(_ summary: JobSummary) -> [UInt8]
    /// The end of the whole stream, with the usage of every choice.
    func end(usage: GenerationUsage) -> [UInt8]
}

extension StreamEncoding {
    func scored(_ scores: [TokenLogprob?]) -> [UInt8] { [] }
}

/// The wire formats of a streamed `/generate` response, chosen by `Accept`.
enum StreamFormat: String {
    /// Raw text as it is produced (`curl -N` shows it appear).
    case text = "text/plain"
    /// One JSON object per line: tokens, then a final `done` object.
    case ndjson = "application/x-ndjson"
    /// The same objects as server-sent events.
    case sse = "text/event-stream"

    var contentType: String { self == .text ? "text/plain; charset=utf-8" : rawValue }

    /// The first supported type in `Accept`, by quality then order; text when none is named.
    static func negotiate(accept: String?) -> StreamFormat {
        guard let accept else { return .text }
        var best: (format: StreamFormat, quality: Double)?
        for part in accept.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = pieces.first, let format = StreamFormat(rawValue: type) else { continue }
            let quality = pieces.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if quality > 0, quality > (best?.quality ?? 0) { best = (format, quality) }
        }
        return best?.format ?? .text
    }

    var keepAlive: [UInt8]? {
        switch self {
        case .text: return nil
        case .ndjson: return Array("{\"status\":\"queued\"}\n".utf8)
        case .sse: return Array(": queued\n\n".utf8)
        }
    }

    func frame(_ json: [UInt8]) -> [UInt8] {
        self == .sse ? Array("data: ".utf8) + json + Array("\n\n".utf8) : json + [0x0A]
    }
}

/// A streamed `/generate` response: its format, and the tokenizer that names
/// the tokens of log-probabilities.
struct GenerateStream: StreamEncoding {
    let format: StreamFormat
    let tokenizer: Tokenizer

    var contentType: String { format.contentType }
    var keepAlive: [UInt8]? { format.keepAlive }

    func token(_ token: GeneratedToken) -> [UInt8] {
        switch format {
        case .text: return Array(token.text.utf8)
        case .ndjson, .sse:
            guard let logprob = token.logprob else { return tokenMessage(text: token.text, id: token.id) }
            return format.frame(JSONCoding.encode(TokenMessage(token, logprob: logprob, tokenizer: tokenizer)))
        }
    }

    func final(_ summary: JobSummary) -> [UInt8] {
        switch format {
        case .text: return Array(summary.trailingText.utf8)
        case .ndjson, .sse:
            let trailing = summary.trailingText.isEmpty ? [] : tokenMessage(text: summary.trailingText, id: nil)
            return trailing + format.frame(JSONCoding.encode(DoneMessage(summary)))
        }
    }

    /// `{"id":…,"text":…}`, the id left out for leftover text. Written directly
    /// (sorted keys, as JSONEncoder would) because it runs once per token.
    private func tokenMessage(text: String, id: Int?) -> [UInt8] {
        format.frame(Array(((id.map { #"{"id":\#($0),"# } ?? "{") + #""text":\#(text.jsonQuoted)}"#).utf8))
    }
}

/// A generated token with its log-probability, in `/generate`'s streams.
struct TokenMessage: Encodable {
    let id: Int
    let text: String
    let token: String
    let logprob: Double
    let top_logprobs: [LogprobEntry]
    init(_ generated: GeneratedToken, logprob: TokenLogprob, tokenizer: Tokenizer) {
        let entry = LogprobEntry(logprob, tokenizer: tokenizer)
        id = generated.id
        text = generated.text
        token = entry.token
        self.logprob = entry.logprob
        top_logprobs = entry.top_logprobs ?? []
    }
}

/// One token's log-probability in `/generate`: its id, its piece (see
/// `Tokenizer.piece`), and its most likely alternatives (absent inside the list of alternatives).
struct LogprobEntry: Encodable {
    let id: Int
    let token: String
    let logprob: Double
    let top_logprobs: [LogprobEntry]?
    init(_ logprob: TokenLogprob, tokenizer: Tokenizer) {
        id = logprob.id
        token = tokenizer.piece(logprob.id)
        self.logprob = logprob.logprob
        top_logprobs = logprob.top.map { LogprobEntry(id: $0.id, token: tokenizer.piece($0.id), logprob: $0.logprob) }
    }
    private init(id: Int, token: String, logprob: Double) {
        self.id = id
        self.token = token
        self.logprob = logprob
        top_logprobs = nil
    }
}

struct Usage: Encodable {
    let prompt_tokens: Int
    let completion_tokens: Int
    let total_tokens: Int
    init(_ usage: GenerationUsage) {
        prompt_tokens = usage.promptTokens
        completion_tokens = usage.generatedTokens
        total_tokens = usage.promptTokens + usage.generatedTokens
    }
}

struct Timings: Encodable {
    let queue_ms: Double
    let prefill_ms: Double
    let time_to_first_token_ms: Double?
    let decode_ms: Double
    let ms_per_token: Double
    let tokens_per_second: Double
    init(_ summary: JobSummary) {
        queue_ms = summary.queueMilliseconds
        prefill_ms = summary.timings.prefillMilliseconds
        time_to_first_token_ms = summary.timeToFirstTokenMilliseconds
        decode_ms = summary.timings.decodeMilliseconds
        ms_per_token = summary.timings.millisecondsPerToken
        tokens_per_second = summary.timings.tokensPerSecond
    }
}

/// The last object of an NDJSON or SSE stream.
struct DoneMessage: Encodable {
    let done = true
    let finish_reason: String
    let usage: Usage
    let timings: Timings
    let seed: UInt64
    init(_ summary: JobSummary) {
        finish_reason = summary.finishReason.rawValue
        usage = Usage(summary.usage)
        timings = Timings(summary)
        seed = summary.seed
    }
}

/// The body of a non-streamed response.
struct CompletionMessage: Encodable {
    let text: String
    let token_ids: [Int]
    /// One entry per generated token, when the request asked for `logprobs`.
    let logprobs: [LogprobEntry]?
    let finish_reason: String
    let usage: Usage
    let timings: Timings
    let seed: UInt64
}

enum JSONCoding {
    /// Compact JSON with sorted keys; a fresh encoder per call keeps this thread-safe.
    static func encode<Value: Encodable>(_ value: Value) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try! encoder.encode(value))
    }
}

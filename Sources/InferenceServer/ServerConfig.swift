import Foundation
import GPT
import JSON

/// The values a `/generate` request gets for the fields it leaves out: the
/// engine's settings (built in: `GenerationSettings()`), streaming and the pause
/// between tokens. The `defaults.*` settings override them (see `GenerationField`).
public struct GenerationDefaults: Sendable, Equatable, Encodable {
    public var settings = GenerationSettings()
    public var stream = true
    public var delayMs = 0

    public init() {}

    /// Each configurable field under its name, as `GET /model` shows them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: FieldName.self)
        for field in GenerationField.all where field.configurable {
            let key = FieldName(field.name)
            switch field.kind {
            case .integer(let path, _, _): try container.encode(self[keyPath: path], forKey: key)
            case .number(let path, _, _, _): try container.encode(self[keyPath: path], forKey: key)
            case .boolean(let path): try container.encode(self[keyPath: path], forKey: key)
            case .prompt, .seed, .stop, .logitBias, .logprobs: break
            }
        }
    }

    private struct FieldName: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}

/// The `defaults` section as given: request field values by field name, kept
/// as JSON so that they are checked exactly as a request's fields are (an
/// integer field refuses `3.0`), once the model is loaded.
public struct DefaultSettings: Sendable, Equatable {
    public var values: [String: JSONValue] = [:]

    public init() {}

    /// The names `defaults.NAME` may take.
    public static let names = GenerationField.all.filter(\.configurable).map(\.name)
}

/// Every setting of `gpt-server` with its default. `config/server.json` holds
/// the same; environment variables and command-line flags override it.
public struct ServerConfig: Codable, Sendable, Equatable {
    /// Address to listen on; 127.0.0.1 keeps the server private to this machine.
    public var host = "127.0.0.1"
    public var port = 8080
    /// Model files; relative paths are resolved against the current directory.
    public var checkpoint = "models/shakespeare/gpt_checkpoint.bin"
    /// "" means the model's own: a GGUF file's metadata, a Hugging Face
    /// folder's tokenizer.json, or the tokenizer.json beside the model file.
    public var tokenizer = ""
    /// Generations advancing together, token by token.
    public var maxActive = 4
    /// Requests waiting for a generation slot; beyond it, 503.
    public var maxQueued = 16
    /// Cap on a request's num_tokens.
    public var maxNumTokens = 1024
    /// Cap on a request's delay_ms, so that a valid request cannot hold a slot for hours.
    public var maxDelayMs = 1000
    /// Wall-clock cap on a request, from arrival to last token; a generation
    /// still running then is cancelled (finish reason `cancelled`, a log line).
    public var maxRequestSeconds = 600
    /// Most completions one `/v1/completions` request may ask for (prompts × n).
    public var maxChoices = 16
    /// Largest request body; beyond it, 413.
    public var maxBodyBytes = 1 << 20
    /// Connection limits: open connections, connections per client IP (more
    /// than max_active + max_queued, so that one client meets the queue's 503
    /// before the connection limit, yet below max_connections, so that one
    /// address cannot take them all), seconds of client silence before
    /// closing, memory pool per connection.
    public var maxConnections = 128
    public var maxConnectionsPerIp = 32
    public var connectionTimeoutSeconds = 30
    public var connectionMemoryBytes = 64 * 1024
    /// Seconds from a connection's start (and from the end of each response on
    /// a kept-alive connection) to a request's last body byte; not restarted by
    /// each byte received, so a client that trickles bytes cannot hold a connection.
    public var requestReceiveTimeoutSeconds = 15
    /// Seconds a streamed response may go without the client taking any of
    /// it before its generation is cancelled and its slot freed.
    public var writeTimeoutSeconds = 30
    /// Seconds in-flight streams may take to finish after SIGINT/SIGTERM.
    public var drainTimeoutSeconds = 30
    /// Interval of keep-alive lines on NDJSON and SSE streams while a request waits.
    public var keepAliveMilliseconds = 1000
    /// A stream's tokens that come within this many milliseconds of the last
    /// piece it sent go out together when that time is up (its first token at
    /// once); 0 sends every token as it comes.
    public var streamFlushMilliseconds = 20
    /// How much a prompt may slow the running streams: while others stream, a
    /// prompt runs in pieces that make a turn last about this many decode
    /// turns; 0 runs every prompt whole (its first token soonest, the streams
    /// stopped meanwhile).
    public var promptStallFactor = WindowPacing.defaultStallFactor
    /// Compute threads for matrix products.
    public var threads = 2
    /// Copy the weights into transparent huge pages at start-up (faster
    /// decode; memory of the process's own) instead of reading them from the
    /// mapped file (shared with other processes, and reclaimable).
    public var hugePages = false
    /// When set, every route but /health and the page needs `Authorization: Bearer <key>`.
    /// Prefer the environment (GPT_SERVER_API_KEY) to the config file for a secret.
    public var apiKey = ""
    /// Browser origins allowed to call the API cross-origin (CORS); "*" for any.
    public var corsOrigins: [String] = []
    /// The chat template (`/v1/chat/completions`): each message is its role's
    /// prefix, its content and the separator; the reply follows the assistant's prefix.
    public var chatSystemPrefix = ""
    public var chatUserPrefix = "User: "
    public var chatAssistantPrefix = "Assistant: "
    public var chatSeparator = "\n"
    /// Set by `ConfigLoader`, which reads it apart from the other settings (see `DefaultSettings`).
    public var defaults = DefaultSettings()

    var chatTemplate: ChatTemplate {
        ChatTemplate(systemPrefix: chatSystemPrefix, userPrefix: chatUserPrefix, assistantPrefix: chatAssistantPrefix,
                     separator: chatSeparator)
    }

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case host, port, checkpoint, tokenizer
        case maxActive = "max_active", maxQueued = "max_queued", maxNumTokens = "max_num_tokens"
        case maxDelayMs = "max_delay_ms", maxRequestSeconds = "max_request_seconds"
        case maxChoices = "max_choices"
        case maxBodyBytes = "max_body_bytes", maxConnections = "max_connections"
        case maxConnectionsPerIp = "max_connections_per_ip", connectionTimeoutSeconds = "connection_timeout_seconds"
        case connectionMemoryBytes = "connection_memory_bytes", drainTimeoutSeconds = "drain_timeout_seconds"
        case requestReceiveTimeoutSeconds = "request_receive_timeout_seconds", writeTimeoutSeconds = "write_timeout_seconds"
        case keepAliveMilliseconds = "keep_alive_milliseconds", promptStallFactor = "prompt_stall_factor"
        case streamFlushMilliseconds = "stream_flush_milliseconds"
        case threads, hugePages = "huge_pages", apiKey = "api_key", corsOrigins = "cors_origins"
        case chatSystemPrefix = "chat_system_prefix", chatUserPrefix = "chat_user_prefix"
        case chatAssistantPrefix = "chat_assistant_prefix", chatSeparator = "chat_separator"
    }
}

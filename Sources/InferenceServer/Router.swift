import Foundation
import GPT
import HTTP
import Logging
import Synchronization

/// Maps requests to the model: `POST /generate`, `GET /health`, `GET /model`.
/// Knows HTTP and the model actor; the engine below knows neither.
///
/// The router exists before the model is loaded, so `/health` can answer 503
/// while loading; `modelLoaded` switches it on.
public final class Router: Sendable {
    private let config: ServerConfig
    private let logger: Logger
    private let loaded = Mutex<ModelActor?>(nil)

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Starts serving `textModel`.
    public func modelLoaded(_ textModel: TextModel) {
        let actor = ModelActor(textModel: textModel, maxActive: config.maxActive, maxQueued: config.maxQueued)
        loaded.withLock { $0 = actor }
    }

    /// Answers one request and logs it (streams log when they end).
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let started = ContinuousClock.now
        let response: HTTPResponse
        var tokens: Int?
        do {
            (response, tokens) = try await route(request, started: started)
        } catch {
            response = error.response
        }
        if case .full(let status, _, _) = response {
            log(request, status: status, tokens: tokens, started: started)
        }
        return response
    }

    /// Refuses new generations and waits (up to `timeout` seconds) for the running ones.
    public func drain(timeout: TimeInterval) -> Bool {
        guard let model = loaded.withLock({ $0 }) else { return true }
        model.stop()
        return model.waitUntilIdle(timeout: timeout)
    }

    /// The response, and the tokens generated for the log line (nil when none were asked for).
    private func route(_ request: HTTPRequest, started: ContinuousClock.Instant) async throws(APIError) -> (HTTPResponse, Int?) {
        let model = loaded.withLock { $0 }
        switch request.path {
        case "/generate":
            guard request.method == "POST" else { throw .methodNotAllowed(request.method, path: request.path, allowed: ["POST"]) }
            guard let model else { throw .loading }
            return try await generate(request, model: model, started: started)
        case "/health":
            guard request.method == "GET" || request.method == "HEAD" else {
                throw .methodNotAllowed(request.method, path: request.path, allowed: ["GET", "HEAD"])
            }
            guard let model else { return (APIError.loading.response, nil) }
            guard !model.isStopping else { return (APIError.shuttingDown.response, nil) }
            let load = model.load
            return (json(200, HealthMessage(status: "ok", active: load.active, queued: load.queued)), nil)
        case "/model":
            guard request.method == "GET" || request.method == "HEAD" else {
                throw .methodNotAllowed(request.method, path: request.path, allowed: ["GET", "HEAD"])
            }
            guard let model else { throw .loading }
            return (json(200, ModelMessage(model.textModel)), nil)
        default:
            throw .notFound(request.path)
        }
    }

    private func generate(_ request: HTTPRequest, model: ModelActor,
                          started: ContinuousClock.Instant) async throws(APIError) -> (HTTPResponse, Int?) {
        let mediaType = request.header("content-type")?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else { throw .unsupportedMediaType }
        var parsed = try GenerateRequest(body: request.body, defaults: config.defaults,
                                         maxNumTokens: config.maxNumTokens, config: model.config)
        // Drawn here, not in the engine, so even a request dropped from the queue reports it.
        parsed.settings.seed = parsed.settings.seed ?? GenerationSettings.freshSeed()
        let tokens = model.textModel.tokenizer.encode(parsed.prompt)
        guard !tokens.isEmpty else { throw .badRequest("field \"prompt\" encodes to no tokens") }
        let job = Job(request: parsed, promptTokens: tokens)
        try model.submit(job)

        guard parsed.stream else {
            let (summary, ids, text) = await job.result()
            let body = CompletionMessage(text: text, token_ids: ids, finish_reason: summary.finishReason.rawValue,
                                         usage: Usage(summary.usage), timings: Timings(summary), seed: summary.seed)
            return (json(200, body), summary.usage.generatedTokens)
        }
        let format = StreamFormat.negotiate(accept: request.header("accept"))
        let keepAlive = TimeInterval(config.keepAliveMilliseconds) / 1000
        return (.stream(status: 200, headers: [("Content-Type", format.contentType), ("Cache-Control", "no-cache"),
                                              ("X-Accel-Buffering", "no")]) { [self] writer in
            let generated = stream(job, format: format, to: writer, keepAlive: keepAlive)
            log(request, status: 200, tokens: generated, started: started)
        }, nil)
    }

    /// Sends `job`'s events as they come; returns the tokens generated.
    /// A client that leaves (a failed write, or a probe while nothing is sent) cancels the job.
    private func stream(_ job: Job, format: StreamFormat, to writer: ResponseBodyWriter, keepAlive: TimeInterval) -> Int {
        let probeInterval = min(0.1, keepAlive)
        var lastSent = Date()
        var generated = 0
        while true {
            guard let event = job.nextEvent(timeout: probeInterval) else {
                if !writer.isClientConnected {
                    job.cancellation.cancel()
                    return generated
                }
                if let line = format.keepAlive, job.isQueued, Date().timeIntervalSince(lastSent) >= keepAlive {
                    _ = writer.write(line)
                    lastSent = Date()
                }
                continue
            }
            switch event {
            case .started:
                continue
            case .token(let token):
                generated += 1
                let bytes = format.token(token)
                if !bytes.isEmpty {
                    guard writer.write(bytes) else {
                        job.cancellation.cancel()
                        return generated
                    }
                    lastSent = Date()
                }
            case .finished(let summary):
                _ = writer.write(format.final(summary))
                writer.finish()
                return summary.usage.generatedTokens
            }
        }
    }

    private func json<Body: Encodable>(_ status: Int, _ body: Body) -> HTTPResponse {
        .full(status: status, headers: [("Content-Type", "application/json")], body: JSONCoding.encode(body))
    }

    private func log(_ request: HTTPRequest, status: Int, tokens: Int?, started: ContinuousClock.Instant) {
        var metadata: Logger.Metadata = [
            "method": "\(request.method)", "path": "\(request.path)", "status": "\(status)",
            "duration_ms": "\(String(format: "%.1f", (ContinuousClock.now - started) / .milliseconds(1)))",
            "client": "\(request.remoteAddress)",
        ]
        if let tokens { metadata["tokens"] = "\(tokens)" }
        logger.info("request", metadata: metadata)
    }
}

struct HealthMessage: Encodable {
    let status: String
    let active: Int
    let queued: Int
}

struct ModelMessage: Encodable {
    let layers, heads, channels, vocab_size, context_length, parameters: Int
    let checkpoint, tokenizer: String
    init(_ model: TextModel) {
        let config = model.config
        layers = config.layers
        heads = config.heads
        channels = config.channels
        vocab_size = config.vocabularySize
        context_length = config.maxT
        parameters = config.effectiveParameterCount
        checkpoint = model.checkpointPath
        tokenizer = model.tokenizerPath
    }
}

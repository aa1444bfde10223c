import Foundation
import GPT
import HTTP
import Logging
import Synchronization

/// Maps requests to the model: the `/generate` API, the OpenAI-compatible
/// `/v1` API, the web page, health, model info and metrics. Knows HTTP and the
/// model actor; the engine below knows neither.
///
/// The router exists before the model is loaded, so `/health` can answer 503
/// while loading; `modelLoaded` switches it on.
public final class Router: Sendable {
    let config: ServerConfig
    let logger: Logger
    let metrics = ServerMetrics()
    let access: Access
    /// Unix time the server started: the `created` of its model in `/v1/models`.
    let startTime = Int(Date().timeIntervalSince1970)
    private let loaded = Mutex<ModelActor?>(nil)

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        access = Access(apiKey: config.apiKey, corsOrigins: config.corsOrigins)
    }

    /// Starts serving `textModel`.
    public func modelLoaded(_ textModel: TextModel) {
        let actor = ModelActor(textModel: textModel, maxActive: config.maxActive, maxQueued: config.maxQueued)
        loaded.withLock { $0 = actor }
    }

    /// Refuses new generations and waits (up to `timeout` seconds) for the running ones.
    public func drain(timeout: TimeInterval) -> Bool {
        guard let model = loaded.withLock({ $0 }) else { return true }
        model.stop()
        return model.waitUntilIdle(timeout: timeout)
    }

    /// The model's name in the OpenAI API: the checkpoint's folder for
    /// `…/NAME/gpt_checkpoint.bin`, else the file name without extension.
    static func modelID(checkpointPath: String) -> String {
        let url = URL(fileURLWithPath: checkpointPath)
        return url.lastPathComponent == "gpt_checkpoint.bin"
            ? url.deletingLastPathComponent().lastPathComponent
            : url.deletingPathExtension().lastPathComponent
    }

    // MARK: dispatch

    /// Answers one request: CORS, the API key, then the route; logs and counts it
    /// (a stream when it ends).
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let started = ContinuousClock.now
        var cors = access.corsHeaders(origin: request.header("origin")) ?? []
        var response: HTTPResponse
        var tokens: Int?
        if request.method == "OPTIONS" && request.header("access-control-request-method") != nil {
            switch access.preflight(request) {
            case .success(let answer): response = answer
            case .failure(let error): response = render(error, for: request)
            }
            cors = []  // the preflight answer carries its own
        } else if let denied = access.authorize(request) {
            response = render(denied, for: request)
        } else if request.bodyLimitExceeded {
            response = render(.payloadTooLarge(limit: config.maxBodyBytes), for: request)
        } else {
            do {
                (response, tokens) = try await route(request, started: started, cors: cors)
            } catch {
                response = render(error, for: request)
            }
        }
        if case .full(let status, let headers, let body) = response {
            response = .full(status: status, headers: headers + cors, body: body)
            finished(request, status: status, tokens: tokens, started: started)
        }
        return response
    }

    /// Errors on `/v1` routes take OpenAI's shape, elsewhere this API's.
    func render(_ error: APIError, for request: HTTPRequest) -> HTTPResponse {
        request.path.hasPrefix("/v1/") ? error.openAIResponse : error.response
    }

    /// The response, and the tokens generated for the log line (nil when none were asked for).
    private func route(_ request: HTTPRequest, started: ContinuousClock.Instant,
                       cors: [(String, String)]) async throws(APIError) -> (HTTPResponse, Int?) {
        let model = loaded.withLock { $0 }
        func allow(_ methods: String...) throws(APIError) {
            let accepted = methods.contains("GET") ? methods + ["HEAD"] : methods
            guard accepted.contains(request.method) else {
                throw .methodNotAllowed(request.method, path: request.path, allowed: accepted)
            }
        }
        func ready() throws(APIError) -> ModelActor {
            guard let model else { throw .loading }
            return model
        }
        switch request.path {
        case "/":
            try allow("GET")
            return (.text(status: 200, WebPage.html, contentType: "text/html; charset=utf-8"), nil)
        case "/health":
            try allow("GET")
            let model = try ready()
            guard !model.isStopping else { throw .shuttingDown }
            let load = model.load
            return (json(200, HealthMessage(status: "ok", active: load.active, queued: load.queued)), nil)
        case "/model":
            try allow("GET")
            return (json(200, ModelMessage(try ready().textModel, config: config)), nil)
        case "/metrics":
            try allow("GET")
            let load = model?.load ?? (active: 0, queued: 0)
            return (.full(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                          body: metrics.exposition(active: load.active, queued: load.queued)), nil)
        case "/generate":
            try allow("POST")
            return try await generate(request, model: try ready(), started: started, cors: cors)
        case "/v1/completions":
            try allow("POST")
            return try await completions(request, model: try ready(), started: started, cors: cors)
        case "/v1/models":
            try allow("GET")
            let model = try ready()
            let id = Self.modelID(checkpointPath: model.textModel.checkpointPath)
            return (json(200, OpenAIModelList(data: [.init(id: id, created: startTime)])), nil)
        default:
            throw .notFound(request.path)
        }
    }

    // MARK: shared by the generation routes

    /// Tokenizes and queues a validated request; the job reports its numbers to the metrics when it ends.
    func submit(_ request: GenerateRequest, to model: ModelActor) throws(APIError) -> Job {
        var request = request
        // Drawn here, not in the engine, so even a request dropped from the queue reports it.
        request.settings.seed = request.settings.seed ?? GenerationSettings.freshSeed()
        let tokens = model.textModel.tokenizer.encode(request.prompt)
        guard !tokens.isEmpty else { throw .badRequest("field \"prompt\" encodes to no tokens", param: "prompt") }
        let job = Job(request: request, promptTokens: tokens)
        try model.submit(job)
        job.onFinish { [metrics] summary, _, _ in metrics.generation(summary) }
        return job
    }

    /// A streamed response that sends `job`'s events in `encoding` as they come.
    func streamResponse(_ job: Job, encoding: some StreamEncoding, request: HTTPRequest,
                        started: ContinuousClock.Instant, cors: [(String, String)]) -> HTTPResponse {
        let keepAlive = TimeInterval(config.keepAliveMilliseconds) / 1000
        let headers = [("Content-Type", encoding.contentType), ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]
        return .stream(status: 200, headers: headers + cors) { [self] writer in
            let generated = stream(job, encoding: encoding, to: writer, keepAlive: keepAlive)
            finished(request, status: 200, tokens: generated, started: started)
        }
    }

    /// Sends `job`'s events as they come; returns the tokens generated.
    /// A client that leaves (a failed write, or a probe while nothing is sent) cancels the job.
    private func stream(_ job: Job, encoding: some StreamEncoding, to writer: ResponseBodyWriter, keepAlive: TimeInterval) -> Int {
        let probeInterval = min(0.1, keepAlive)
        var lastSent = Date()
        var generated = 0
        while true {
            let events = job.nextEvents(timeout: probeInterval)
            if events.isEmpty {
                if !writer.isClientConnected {
                    job.cancellation.cancel()
                    return generated
                }
                if let line = encoding.keepAlive, job.isQueued, Date().timeIntervalSince(lastSent) >= keepAlive {
                    _ = writer.write(line)
                    lastSent = Date()
                }
                continue
            }
            // Everything that came since the last write goes out in one piece.
            var bytes: [UInt8] = []
            var summary: JobSummary?
            for event in events {
                switch event {
                case .started:
                    continue
                case .token(let token):
                    generated += 1
                    bytes += encoding.token(token)
                case .finished(let final):
                    bytes += encoding.final(final)
                    summary = final
                }
            }
            if !bytes.isEmpty {
                if writer.write(bytes) {
                    lastSent = Date()
                } else if summary == nil {
                    job.cancellation.cancel()
                    return generated
                }
            }
            if let summary {
                writer.finish()
                return summary.usage.generatedTokens
            }
        }
    }

    func json<Body: Encodable>(_ status: Int, _ body: Body) -> HTTPResponse {
        .full(status: status, headers: [("Content-Type", "application/json")], body: JSONCoding.encode(body))
    }

    /// One log line and one count per request.
    private func finished(_ request: HTTPRequest, status: Int, tokens: Int?, started: ContinuousClock.Instant) {
        metrics.request(path: request.path, status: status)
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

/// `GET /model`: the model's shape and files, and what a request may ask of it here.
struct ModelMessage: Encodable {
    struct Limits: Encodable { let max_num_tokens: Int }
    let layers, heads, channels, vocab_size, context_length, parameters: Int
    let checkpoint, tokenizer: String
    /// How the model file is stored ("GGUF v3", "llm.c v3", ...) and the type of its weight matrices.
    let format, weight_type: String
    let limits: Limits
    /// The values a request gets for fields it leaves out.
    let defaults: GenerationDefaults
    init(_ model: TextModel, config server: ServerConfig) {
        limits = Limits(max_num_tokens: server.maxNumTokens)
        defaults = server.defaults
        let config = model.config
        layers = config.layers
        heads = config.heads
        channels = config.channels
        vocab_size = config.vocabularySize
        context_length = config.maxT
        parameters = config.effectiveParameterCount
        checkpoint = model.checkpointPath
        tokenizer = model.tokenizerPath
        format = model.format
        weight_type = model.weightType
    }
}

import Foundation
import GPT
import HTTP
import Logging
import Synchronization

/// Maps requests to the model: the `/generate` API, the OpenAI-compatible
/// `/v1` API, the web page, health, model info and metrics. Knows HTTP and the
/// generation scheduler; the engine below knows neither.
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
    private let loaded = Mutex<GenerationScheduler?>(nil)

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        access = Access(apiKey: config.apiKey, corsOrigins: config.corsOrigins)
    }

    /// Starts serving `textModel`.
    public func modelLoaded(_ textModel: TextModel) {
        let scheduler = GenerationScheduler(textModel: textModel, maxActive: config.maxActive, maxQueued: config.maxQueued,
                                            maxRequestDuration: .seconds(config.maxRequestSeconds),
                                            writeTimeout: .seconds(config.writeTimeoutSeconds), logger: logger)
        loaded.withLock { $0 = scheduler }
    }

    /// Refuses new generations and waits (up to `timeout` seconds) for the running ones.
    public func drain(timeout: TimeInterval) -> Bool {
        guard let model = loaded.withLock({ $0 }) else { return true }
        model.stop()
        return model.waitUntilIdle(timeout: timeout)
    }

    /// Cancels every queued and running generation, once a drain has timed
    /// out; each client gets a last message saying so. Returns how many there were.
    public func cancelGenerations() -> Int {
        loaded.withLock { $0 }?.cancelAll() ?? 0
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

    /// Answers one request: the API key, then the route. Every answer, errors
    /// and streams included, then gets its CORS headers, one log line and one
    /// count here (a stream's when its body ends), so routes never see them.
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let started = ContinuousClock.now
        let isPreflight = request.method == "OPTIONS" && request.header("access-control-request-method") != nil
        var response: HTTPResponse
        var job: Job?
        if isPreflight {
            switch access.preflight(request) {
            case .success(let answer): response = answer
            case .failure(let error): response = render(error, for: request)
            }
        } else if let denied = access.authorize(request) {
            response = render(denied, for: request)
        } else if request.bodyLimitExceeded {
            response = render(.payloadTooLarge(limit: config.maxBodyBytes), for: request)
        } else {
            do {
                (response, job) = try await route(request)
            } catch {
                response = render(error, for: request)
            }
        }
        // A preflight's answer carries its own CORS headers.
        let cors = isPreflight ? [] : access.corsHeaders(origin: request.header("origin")) ?? []
        let status = response.status
        return response.addingHeaders(cors).whenBodyProduced { [self, job] in
            guard let job else { return finished(request, status: status, tokens: nil, started: started) }
            // A stream whose client left ends before its job does: the count waits for the job.
            job.onFinish { summary, _, _ in
                self.finished(request, status: status, tokens: summary.usage.generatedTokens, started: started)
            }
        }
    }

    /// Errors on `/v1` routes take OpenAI's shape, elsewhere this API's.
    func render(_ error: APIError, for request: HTTPRequest) -> HTTPResponse {
        request.path.hasPrefix("/v1/") ? error.openAIResponse : error.response
    }

    /// The response, and the generation behind it, if any (for the log line).
    private func route(_ request: HTTPRequest) async throws(APIError) -> (HTTPResponse, Job?) {
        let model = loaded.withLock { $0 }
        func allow(_ methods: String...) throws(APIError) {
            let accepted = methods.contains("GET") ? methods + ["HEAD"] : methods
            guard accepted.contains(request.method) else {
                throw .methodNotAllowed(request.method, path: request.path, allowed: accepted)
            }
        }
        func ready() throws(APIError) -> GenerationScheduler {
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
            return try await generate(request, model: try ready())
        case "/v1/completions":
            try allow("POST")
            return try await completions(request, model: try ready())
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
    func submit(_ request: GenerateRequest, to model: GenerationScheduler) throws(APIError) -> Job {
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

    /// A streamed response that sends `job`'s events in `encoding` as they
    /// come, pulled by the connection's own thread (see ``JobStream``).
    func streamResponse(_ job: Job, encoding: some StreamEncoding, client: ClientConnection) -> HTTPResponse {
        let headers = [("Content-Type", encoding.contentType), ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]
        job.onStall { [self] in
            // The connection's thread waits for the socket, which will not drain: fail it.
            client.abort()
            metrics.streamStalled()
            logger.warning("stream stalled: the client took nothing for write_timeout_seconds; generation cancelled",
                           metadata: ["write_timeout_s": "\(config.writeTimeoutSeconds)"])
        }
        let keepAlive = Duration.milliseconds(config.keepAliveMilliseconds)
        return HTTPResponse(status: 200, headers: headers,
                            body: .pull(JobStream(job, encoding: encoding, client: client, keepAlive: keepAlive)))
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

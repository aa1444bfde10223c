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
    /// What `/generate` requests get for the fields they leave out: the
    /// `defaults.*` settings, checked against the model once it is loaded.
    let defaults = Mutex(GenerationDefaults())

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        access = Access(apiKey: config.apiKey, corsOrigins: config.corsOrigins)
    }

    /// Starts serving `textModel`, unless the `defaults.*` settings do not fit it.
    public func modelLoaded(_ textModel: TextModel) throws(ConfigError) {
        let defaults = try config.generationDefaults(for: textModel.config)
        self.defaults.withLock { $0 = defaults }
        let scheduler = GenerationScheduler(textModel: textModel, maxActive: config.maxActive, maxQueued: config.maxQueued,
                                            maxRequestDuration: .seconds(config.maxRequestSeconds),
                                            writeTimeout: .seconds(config.writeTimeoutSeconds),
                                            pacing: WindowPacing(stallFactor: config.promptStallFactor), logger: logger)
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
        var jobs: [Job] = []
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
                (response, jobs) = try await route(request)
            } catch {
                response = render(error, for: request)
            }
        }
        // A preflight's answer carries its own CORS headers.
        let cors = isPreflight ? [] : access.corsHeaders(origin: request.header("origin")) ?? []
        let status = response.status
        return response.addingHeaders(cors).whenBodyProduced { [self, jobs] in
            guard !jobs.isEmpty else { return finished(request, status: status, tokens: nil, started: started) }
            // A stream whose client left ends before its jobs do: the count waits for the last of them.
            let tally = TokenTally(jobs: jobs.count) { tokens in
                self.finished(request, status: status, tokens: tokens, started: started)
            }
            for job in jobs { job.onFinish { tally.add($0.summary.usage.generatedTokens) } }
        }
    }

    /// Errors on `/v1` routes take OpenAI's shape, elsewhere this API's.
    func render(_ error: APIError, for request: HTTPRequest) -> HTTPResponse {
        request.path.hasPrefix("/v1/") ? error.openAIResponse : error.response
    }

    /// The response, and the generations behind it, if any (for the log line).
    private func route(_ request: HTTPRequest) async throws(APIError) -> (HTTPResponse, [Job]) {
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
            return (.text(status: 200, WebPage.html, contentType: "text/html; charset=utf-8"), [])
        case "/health":
            try allow("GET")
            let model = try ready()
            guard !model.isStopping else { throw .shuttingDown }
            let load = model.load
            return (json(200, HealthMessage(status: "ok", active: load.active, queued: load.queued)), [])
        case "/model":
            try allow("GET")
            return (json(200, ModelMessage(try ready().textModel, config: config, defaults: defaults.withLock { $0 })), [])
        case "/metrics":
            try allow("GET")
            let load = model?.load ?? (active: 0, queued: 0)
            return (.full(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                          body: metrics.exposition(active: load.active, queued: load.queued)), [])
        case "/generate":
            try allow("POST")
            return try await generate(request, model: try ready())
        case "/v1/completions":
            try allow("POST")
            return try await completions(request, model: try ready())
        case "/v1/chat/completions":
            try allow("POST")
            return try await chatCompletions(request, model: try ready())
        case "/tokenize":
            try allow("POST")
            return (try tokenize(request, model: try ready()), [])
        case "/detokenize":
            try allow("POST")
            return (try detokenize(request, model: try ready()), [])
        case "/v1/models":
            try allow("GET")
            let model = try ready()
            let id = Self.modelID(checkpointPath: model.textModel.checkpointPath)
            return (json(200, OpenAIModelList(data: [.init(id: id, created: startTime)])), [])
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
        let tokens = request.prompt.tokens(model.textModel.tokenizer)
        guard !tokens.isEmpty else { throw .badRequest("field \"prompt\" encodes to no tokens", param: "prompt") }
        let job = Job(request: request, promptTokens: tokens)
        try model.submit(job)
        job.onFinish { [metrics] result in metrics.generation(result.summary) }
        return job
    }

    /// A streamed response that sends `job`'s events in `encoding` as they
    /// come, pulled by the connection's own thread (see ``JobStream``).
    func streamResponse(_ job: Job, encoding: some StreamEncoding, client: ClientConnection) -> HTTPResponse {
        watchStall(job, client: client)
        return HTTPResponse(status: 200, headers: streamHeaders(encoding.contentType),
                            body: .pull(JobStream(job, encoding: encoding, client: client, pacing: streamPacing)))
    }

    /// Several choices' events as one stream (see ``ChoicesStream``).
    func streamResponse<Encoding: ChoiceStreamEncoding>(_ choices: [(job: Job, encoding: Encoding)], n: Int,
                                                        client: ClientConnection) -> HTTPResponse {
        for choice in choices { watchStall(choice.job, client: client) }
        return HTTPResponse(status: 200, headers: streamHeaders(choices[0].encoding.contentType),
                            body: .pull(ChoicesStream(choices, n: n, client: client, pacing: streamPacing)))
    }

    private var streamPacing: StreamPacing {
        StreamPacing(keepAlive: .milliseconds(config.keepAliveMilliseconds), flush: .milliseconds(config.streamFlushMilliseconds))
    }

    private func streamHeaders(_ contentType: String) -> [(String, String)] {
        [("Content-Type", contentType), ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]
    }

    private func watchStall(_ job: Job, client: ClientConnection) {
        job.onStall { [self] in
            // The connection's thread waits for the socket, which will not drain: fail it.
            client.abort()
            metrics.streamStalled()
            logger.warning("stream stalled: the client took nothing for write_timeout_seconds; generation cancelled",
                           metadata: ["write_timeout_s": "\(config.writeTimeoutSeconds)"])
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
    /// How the model file is stored ("GGUF v3", "llm.c v3", ...), the type of its weight matrices, and
    /// whether its logits come from the token embedding ("tied") or an output matrix of its own ("separate").
    let format, weight_type, output: String
    /// Whether the weights were copied into transparent huge pages (the huge_pages setting, where the kernel offers them).
    let huge_pages: Bool
    let limits: Limits
    /// The values a request gets for fields it leaves out.
    let defaults: GenerationDefaults
    init(_ model: TextModel, config server: ServerConfig, defaults: GenerationDefaults) {
        limits = Limits(max_num_tokens: server.maxNumTokens)
        self.defaults = defaults
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
        output = model.model.weights.outputKind
        huge_pages = model.inHugePages
    }
}

/// Sums the tokens of a request's jobs and reports once the last has finished.
private final class TokenTally: Sendable {
    private let state: Mutex<(left: Int, tokens: Int)>
    private let report: @Sendable (Int) -> Void

    init(jobs: Int, report: @escaping @Sendable (Int) -> Void) {
        state = Mutex((jobs, 0))
        self.report = report
    }

    func add(_ tokens: Int) {
        let total: Int? = state.withLock { state in
            state.left -= 1
            state.tokens += tokens
            return state.left == 0 ? state.tokens : nil
        }
        if let total { report(total) }
    }
}

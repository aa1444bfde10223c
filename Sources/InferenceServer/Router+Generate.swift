import GPT
import HTTP

extension Router {
    /// `POST /generate`: the documented flags as JSON; streams in the format `Accept` asks for.
    func generate(_ request: HTTPRequest, model: GenerationScheduler) async throws(APIError) -> (HTTPResponse, [Job]) {
        try requireJSON(request)
        let parsed = try GenerateRequest(body: request.body, defaults: defaults.withLock { $0 },
                                         limits: FieldLimits(model: model.config, server: config), config: model.config)
        let job = try submit(parsed, to: model)
        guard parsed.stream else {
            let result = await job.result()
            let summary = result.summary
            let tokenizer = model.textModel.tokenizer
            let logprobs = parsed.settings.logprobs.map { _ in
                result.tokens.compactMap { $0.logprob }.map { LogprobEntry($0, tokenizer: tokenizer) }
            }
            let body = CompletionMessage(text: result.text, token_ids: result.tokens.map(\.id), logprobs: logprobs,
                                         finish_reason: summary.finishReason.rawValue,
                                         usage: Usage(summary.usage), timings: Timings(summary), seed: summary.seed)
            return (json(200, body), [job])
        }
        let encoding = GenerateStream(format: StreamFormat.negotiate(accept: request.header("accept")),
                                      tokenizer: model.textModel.tokenizer)
        return (streamResponse(job, encoding: encoding, client: request.client), [job])
    }

    func requireJSON(_ request: HTTPRequest) throws(APIError) {
        let mediaType = request.header("content-type")?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else { throw .unsupportedMediaType }
    }
}

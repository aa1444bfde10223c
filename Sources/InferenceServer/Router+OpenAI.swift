import Foundation
import GPT
import HTTP

extension Router {
    /// `POST /v1/completions`, as OpenAI's API answers it.
    func completions(_ request: HTTPRequest, model: GenerationScheduler) async throws(APIError) -> (HTTPResponse, Job) {
        try requireJSON(request)
        let modelID = Self.modelID(checkpointPath: model.textModel.checkpointPath)
        let parsed = try OpenAICompletionRequest(body: request.body, modelID: modelID, maxNumTokens: config.maxNumTokens,
                                                 config: model.config,
                                                 endOfText: model.textModel.tokenizer.id(ofAddedToken: "<|endoftext|>"))
        let job = try submit(parsed.generate, to: model)
        let id = "cmpl-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let created = Int(Date().timeIntervalSince1970)
        guard parsed.generate.stream else {
            let (summary, _, text) = await job.result()
            let body = OpenAICompletion(id: id, created: created, model: modelID,
                                        choices: [.init(text: text, finish_reason: summary.finishReason.openAI)],
                                        usage: Usage(summary.usage))
            return (json(200, body), job)
        }
        let encoding = OpenAIStream(id: id, created: created, model: modelID, includeUsage: parsed.includeUsage)
        return (streamResponse(job, encoding: encoding, client: request.client), job)
    }
}

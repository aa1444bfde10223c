import Foundation
import GPT
import HTTP

extension Router {
    /// `POST /v1/chat/completions`: the messages through the chat template,
    /// then a completion answered in OpenAI's chat shape.
    func chatCompletions(_ request: HTTPRequest, model: GenerationScheduler) async throws(APIError) -> (HTTPResponse, [Job]) {
        try requireJSON(request)
        let modelID = Self.modelID(checkpointPath: model.textModel.checkpointPath)
        let parsed = try ChatCompletionRequest(body: request.body, template: config.chatTemplate, modelID: modelID,
                                               maxNumTokens: config.maxNumTokens, maxChoices: config.maxChoices,
                                               config: model.config,
                                               endOfText: model.textModel.tokenizer.id(ofAddedToken: "<|endoftext|>"))
        let completion = parsed.completion
        let choices = try submitChoices(completion, to: model)
        let id = "chatcmpl-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let created = Int(Date().timeIntervalSince1970)
        let tokenizer = model.textModel.tokenizer
        guard completion.generate.stream else {
            var answers: [ChatCompletion.Choice] = []
            var usage = GenerationUsage()
            for choice in choices {
                let result = await choice.job.result()
                let logprobs = parsed.logprobs ? ChatLogprobs(result.tokens.compactMap(\.logprob), tokenizer: tokenizer) : nil
                answers.append(.init(index: choice.index, message: .init(content: ChatReply.trimmed(result.text)),
                                     logprobs: logprobs, finish_reason: result.summary.finishReason.openAI))
                usage.add(result.summary.usage, countingPrompt: choice.index == 0)
            }
            let body = ChatCompletion(id: id, created: created, model: modelID, choices: answers, usage: Usage(usage))
            return (json(200, body), choices.map(\.job))
        }
        let encodings = choices.map {
            ChatStream(id: id, created: created, model: modelID, includeUsage: completion.includeUsage, index: $0.index,
                       tokenizer: tokenizer)
        }
        let jobs = choices.map(\.job)
        return (streamResponse(zip(jobs, encodings).map { ($0, $1) }, n: completion.n, client: request.client), jobs)
    }
}

import Foundation
import GPT
import HTTP

extension Router {
    /// `POST /v1/completions`, as OpenAI's API answers it: `n` choices for each
    /// prompt of the batch, queued together so that their decode steps share passes.
    func completions(_ request: HTTPRequest, model: GenerationScheduler) async throws(APIError) -> (HTTPResponse, [Job]) {
        try requireJSON(request)
        let modelID = Self.modelID(checkpointPath: model.textModel.checkpointPath)
        let parsed = try OpenAICompletionRequest(body: request.body, modelID: modelID, maxNumTokens: config.maxNumTokens,
                                                 maxChoices: config.maxChoices, config: model.config,
                                                 endOfText: model.textModel.tokenizer.id(ofAddedToken: "<|endoftext|>"))
        let choices = try submitChoices(parsed, to: model)
        let id = "cmpl-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let created = Int(Date().timeIntervalSince1970)
        let tokenizer = model.textModel.tokenizer
        let wantsLogprobs = parsed.generate.settings.logprobs != nil
        let encodings = choices.map { choice in
            OpenAIStream(id: id, created: created, model: modelID, includeUsage: parsed.includeUsage, index: choice.index,
                         prompt: choice.prompt, promptTokens: choice.job.promptTokens, logprobs: wantsLogprobs,
                         tokenizer: tokenizer)
        }
        guard parsed.generate.stream else {
            var answers: [OpenAICompletion.Choice] = []
            var usage = GenerationUsage()
            for choice in choices {
                let result = await choice.job.result()
                var logprobs: OpenAILogprobs?
                if wantsLogprobs {
                    var all = OpenAILogprobs(prompt: choice.job.promptTokens,
                                             scores: parsed.echo ? result.promptScores ?? [] : [], tokenizer: tokenizer)
                    all.append(contentsOf: OpenAILogprobs(tokens: result.tokens, promptScalars: choice.prompt.unicodeScalars.count,
                                                          tokenizer: tokenizer))
                    logprobs = all
                }
                let text = (parsed.echo ? choice.prompt : "") + result.text
                answers.append(.init(text: text, index: choice.index, logprobs: logprobs,
                                     finish_reason: result.summary.finishReason.openAI))
                usage.add(result.summary.usage, countingPrompt: choice.index % parsed.n == 0)
            }
            let body = OpenAICompletion(id: id, created: created, model: modelID, choices: answers, usage: Usage(usage))
            return (json(200, body), choices.map(\.job))
        }
        let jobs = choices.map(\.job)
        if choices.count == 1 {
            return (streamResponse(jobs[0], encoding: encodings[0], client: request.client), jobs)
        }
        return (streamResponse(zip(jobs, encodings).map { ($0, $1) }, n: parsed.n, client: request.client), jobs)
    }

    /// One queued job per choice, index = prompt's index × n + k. Choice k
    /// of a seeded request uses seed + k, so the n choices differ and the
    /// request stays reproducible. If the queue cannot take them all, none runs.
    func submitChoices(_ parsed: OpenAICompletionRequest,
                       to model: GenerationScheduler) throws(APIError) -> [(index: Int, prompt: String, job: Job)] {
        var choices: [(index: Int, prompt: String, job: Job)] = []
        for (p, prompt) in parsed.prompts.enumerated() {
            for k in 0..<parsed.n {
                var request = parsed.generate
                request.prompt = prompt
                request.settings.seed = parsed.generate.settings.seed.map { $0 &+ UInt64(k) }
                do {
                    choices.append((p * parsed.n + k, prompt.text(model.textModel.tokenizer), try submit(request, to: model)))
                } catch {
                    for choice in choices { choice.job.cancellation.cancel() }
                    throw error
                }
            }
        }
        return choices
    }
}

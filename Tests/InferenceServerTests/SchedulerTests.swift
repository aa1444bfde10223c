import Foundation
import GPT
import HTTP
import Logging
import Testing
@testable import InferenceServer

/// The scheduler and the router in-process, without a server: the limits on a
/// generation, and what every answer gets from the router's one place.
@Suite struct SchedulerTests {
    static let textModel: TextModel = {
        let config = GPTConfig(maxT: 64, vocabularySize: 2100, layers: 1, heads: 2, channels: 32)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scheduler-tests-\(getpid()).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }  // the model maps it; the mapping outlives the name
        try! CheckpointWriter.write(config: config, parameters: CheckpointWriter.randomParameters(config: config, seed: 3), to: path)
        let tokenizer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("GPTTests/Fixtures/tokenizer/gpt2ish.json").path
        return try! TextModel(checkpointPath: path, tokenizerPath: tokenizer)
    }()

    static func scheduler(maxRequest: Duration = .seconds(60), writeTimeout: Duration = .seconds(60)) -> GenerationScheduler {
        GenerationScheduler(textModel: textModel, maxActive: 2, maxQueued: 2, maxRequestDuration: maxRequest,
                            writeTimeout: writeTimeout, logger: Logger(label: "test"))
    }

    static func job(tokens: Int, delay: Int = 0, stream: Bool) -> Job {
        var settings = GenerationSettings()
        settings.numTokens = tokens
        settings.seed = 1
        return Job(request: GenerateRequest(prompt: .text("A"), settings: settings, stream: stream, delayMilliseconds: delay),
                   promptTokens: textModel.tokenizer.encode("A"))
    }

    @Test func aGenerationPastTheTimeCapIsCancelled() async throws {
        let scheduler = Self.scheduler(maxRequest: .milliseconds(300))
        let job = Self.job(tokens: 1000, delay: 50, stream: false)
        try scheduler.submit(job)
        let result = await job.result()
        #expect(result.summary.finishReason == .cancelled)
        #expect(result.tokens.count < 1000)
        scheduler.stop()
    }

    /// Tokens nobody takes stall the stream: the job ends, and those who asked are told.
    @Test func untakenTokensStallTheStream() async throws {
        let scheduler = Self.scheduler(writeTimeout: .milliseconds(300))
        let job = Self.job(tokens: 100_000, delay: 1, stream: true)
        let told = Gate()
        job.onStall { told.open() }
        try scheduler.submit(job)
        let summary = await job.result().summary
        #expect(summary.finishReason == .cancelled)
        #expect(told.isOpen)
        scheduler.stop()
    }

    /// A reader that keeps taking tokens is never stalled, however long the generation.
    @Test func aReadingStreamIsNotStalled() async throws {
        let scheduler = Self.scheduler(writeTimeout: .seconds(1))
        let job = Self.job(tokens: 150, delay: 20, stream: true)
        try scheduler.submit(job)
        var finished: JobSummary?
        while finished == nil {
            for case .finished(let summary) in job.nextEvents(timeout: 0.05) { finished = summary }
        }
        #expect(finished?.finishReason == .length)
        scheduler.stop()
    }

    @Test func cancelAllEndsRunningAndQueuedGenerations() async throws {
        let scheduler = Self.scheduler()
        let jobs = (0..<4).map { _ in Self.job(tokens: 100_000, delay: 10, stream: false) }
        for job in jobs { try scheduler.submit(job) }
        #expect(scheduler.cancelAll() == 4)
        for job in jobs { #expect(await job.result().summary.finishReason == .cancelled) }
        #expect(scheduler.waitUntilIdle(timeout: 10))
        scheduler.stop()
    }

    /// CORS headers come from the router's one place, on errors as on answers.
    @Test func everyAnswerGetsItsCorsHeadersInOnePlace() async throws {
        var config = ServerConfig()
        config.corsOrigins = ["https://app.example"]
        let router = Router(config: config, logger: Logger(label: "test"))
        try router.modelLoaded(Self.textModel)
        let origin = ["origin": "https://app.example"]
        let notFound = await router.handle(HTTPRequest(method: "GET", path: "/nowhere", headers: origin))
        let health = await router.handle(HTTPRequest(method: "GET", path: "/health", headers: origin))
        let stream = await router.handle(HTTPRequest(method: "POST", path: "/generate",
                                                     headers: origin.merging(["content-type": "application/json"]) { a, _ in a },
                                                     body: Array(#"{"prompt": "A", "num_tokens": 2}"#.utf8)))
        for response in [notFound, health, stream] {
            #expect(response.headers.contains { $0 == ("Access-Control-Allow-Origin", "https://app.example") })
        }
        #expect(notFound.status == 404 && health.status == 200 && stream.status == 200)
        if case .pull(let body) = stream.body { body.closed(delivered: false) } else { Issue.record("expected a pulled body") }
        #expect(router.drain(timeout: 10))
    }
}

/// Long prompts (and scoring a prompt) run in pieces between the running
/// generations' tokens, and get the tokens (and scores) they get alone.
@Suite struct ChunkedPrefillTests {
    /// A model with room for long prompts.
    static let textModel: TextModel = {
        let config = GPTConfig(maxT: 512, vocabularySize: 2100, layers: 2, heads: 4, channels: 64)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("chunked-prefill-\(getpid()).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }  // the model maps it; the mapping outlives the name
        try! CheckpointWriter.write(config: config, parameters: CheckpointWriter.randomParameters(config: config, seed: 7), to: path)
        let tokenizer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("GPTTests/Fixtures/tokenizer/gpt2ish.json").path
        return try! TextModel(checkpointPath: path, tokenizerPath: tokenizer)
    }()

    /// The largest piece while others stream: fixed, so that the pieces can be
    /// counted (the server sizes them from measured times).
    static let chunk = 32
    /// 10 pieces.
    static let longPrompt = (0..<320).map { ($0 * 37 + 11) % 2100 }

    static func scheduler() -> GenerationScheduler {
        GenerationScheduler(textModel: textModel, maxActive: 4, maxQueued: 4, maxRequestDuration: .seconds(600),
                            writeTimeout: .seconds(600), pacing: WindowPacing(maximumRows: chunk), logger: Logger(label: "test"))
    }

    static func job(prompt: [Int], tokens: Int, stream: Bool) -> Job {
        var settings = GenerationSettings()
        settings.numTokens = tokens
        settings.maxSeqLen = 512
        settings.topK = 1
        settings.seed = 1
        return Job(request: GenerateRequest(prompt: .text(""), settings: settings, stream: stream, delayMilliseconds: 0),
                   promptTokens: prompt)
    }

    static func tokens(in events: [JobEvent]) -> Int {
        events.reduce(0) { count, event in if case .token = event { count + 1 } else { count } }
    }

    /// Runs `job` while a stream runs beside it: the job's result, and the
    /// stream's tokens from the job's submission to its end.
    static func besideAStream(_ job: Job) async throws -> (result: JobResult, streamed: Int) {
        let scheduler = Self.scheduler()
        let running = Self.job(prompt: [1, 2, 3], tokens: 100_000, stream: true)
        try scheduler.submit(running)
        var seen = 0
        while seen < 5 { seen += Self.tokens(in: running.nextEvents(timeout: 1)) }
        let streamed = Counter()
        // Runs on the model thread as the job's end is posted: the running
        // stream's tokens since the drain just before the submission.
        job.onFinish { _ in streamed.add(Self.tokens(in: running.nextEvents(timeout: 0))) }
        _ = running.nextEvents(timeout: 0)
        try scheduler.submit(job)
        let result = await job.result()
        running.cancellation.cancel()
        #expect(scheduler.waitUntilIdle(timeout: 60))
        scheduler.stop()
        return (result, streamed.value)
    }

    /// A running stream keeps getting tokens while a long prompt is prefilled:
    /// about one per chunk, where one pass over the whole prompt gave it none.
    @Test func aRunningStreamAdvancesDuringALongPrefill() async throws {
        let (result, duringPrefill) = try await Self.besideAStream(Self.job(prompt: Self.longPrompt, tokens: 1, stream: false))
        #expect(result.summary.finishReason == .length)
        let chunks = Self.longPrompt.count / Self.chunk
        #expect(duringPrefill >= chunks / 2, "\(duringPrefill) tokens during \(chunks) chunks")
    }

    /// Scoring a long prompt (`echo`) runs in pieces too: a running stream
    /// keeps getting tokens meanwhile (one per piece, where scoring in one go
    /// gave it none), and the scores are bit for bit those of scoring alone
    /// (`Scoring.score`, as gpt-score runs it).
    @Test func scoringALongPromptLetsAStreamAdvance() async throws {
        var settings = Self.job(prompt: [1], tokens: 0, stream: false).request.settings
        settings.scorePrompt = true
        settings.logprobs = 2
        settings.maxSeqLen = 128  // 320 tokens: four window passes of up to 128, a stride of 64 apart
        let expected = Scoring.score(Self.longPrompt, model: Self.textModel.model, window: 128, alternatives: 2)

        let echo = Job(request: GenerateRequest(prompt: .text(""), settings: settings, stream: false, delayMilliseconds: 0),
                       promptTokens: Self.longPrompt)
        let (result, duringScoring) = try await Self.besideAStream(echo)
        #expect(result.promptScores == expected)
        #expect(result.tokens.isEmpty && result.summary.finishReason == .length)
        // 128 scored rows in pieces of 32, then three passes of a 64-row prefix and 64 scored rows: 16 pieces.
        #expect(duringScoring >= 12, "\(duringScoring) tokens while scoring")
    }

    /// A long prompt's tokens and their log-probabilities are, bit for bit,
    /// those the generation loop gives alone (as the `generate` CLI runs it),
    /// whether it runs beside a stream or prefilled together with another
    /// long prompt (one multi-sequence pass per chunk). Sampled, so that any
    /// change in the logits would show.
    @Test func aLongPromptGetsTheTokensItGetsAlone() async throws {
        var settings = Self.job(prompt: Self.longPrompt, tokens: 8, stream: false).request.settings
        settings.topK = 0
        settings.logprobs = 2
        let solo = try TokenGenerator(model: Self.textModel.model, tokenizer: nil, promptTokens: Self.longPrompt,
                                      settings: settings)
        let expected = Array(solo).map(\.logprob)  // the token, its log-probability and two alternatives
        #expect(expected.count == 8)

        let scheduler = Self.scheduler()
        let running = Self.job(prompt: [1, 2, 3], tokens: 100_000, stream: false)
        try scheduler.submit(running)
        let pair = (0..<2).map { _ in
            Job(request: GenerateRequest(prompt: .text(""), settings: settings, stream: false, delayMilliseconds: 0),
                promptTokens: Self.longPrompt)
        }
        for job in pair { try scheduler.submit(job) }
        for job in pair {
            let got = await job.result().tokens.map(\.logprob)
            #expect(got == expected)
        }
        running.cancellation.cancel()
        #expect(scheduler.waitUntilIdle(timeout: 60))
        scheduler.stop()
    }
}

/// A count shared with another thread.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.withLock { count += n } }
    var value: Int { lock.withLock { count } }
}

/// A one-shot signal.
final class Gate: @unchecked Sendable {
    private let lock = NSLock()
    private var opened = false
    func open() { lock.withLock { opened = true } }
    var isOpen: Bool { lock.withLock { opened } }
}

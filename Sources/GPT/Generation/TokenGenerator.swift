import Synchronization

/// One token as it is produced.
public struct GeneratedToken: Sendable, Equatable {
    public let id: Int
    /// Text this token completes; empty while it holds part of a multi-byte character.
    public let text: String
    /// Where this token's text begins in the generated text, in Unicode scalars
    /// (stop strings aside: the offset counts everything decoded before it).
    public let textOffset: Int
    /// Its log-probability and alternatives, when the settings ask for them.
    public let logprob: TokenLogprob?

    public init(id: Int, text: String, textOffset: Int = 0, logprob: TokenLogprob? = nil) {
        self.id = id
        self.text = text
        self.textOffset = textOffset
        self.logprob = logprob
    }
}

public enum FinishReason: String, Sendable, Codable {
    /// `num_tokens` were generated.
    case length
    /// `eos_id` was drawn.
    case eos
    /// The consumer cancelled between tokens.
    case cancelled
    /// The text reached one of the stop strings.
    case stop
}

public struct GenerationUsage: Sendable, Equatable {
    public var promptTokens = 0
    public var generatedTokens = 0

    public init(promptTokens: Int = 0, generatedTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
    }
}

/// Wall-clock time of a generation's two phases.
public struct GenerationTimings: Sendable, Equatable {
    /// The pass over the prompt (its window) that yields the first token's logits.
    public var prefillMilliseconds = 0.0
    /// All later passes and sampling, one per generated token after the first.
    public var decodeMilliseconds = 0.0
    /// Tokens produced by decode passes (generated tokens minus the first).
    public var decodedTokens = 0

    public init() {}

    public var millisecondsPerToken: Double { decodedTokens > 0 ? decodeMilliseconds / Double(decodedTokens) : 0 }
    public var tokensPerSecond: Double { decodeMilliseconds > 0 ? Double(decodedTokens) * 1000 / decodeMilliseconds : 0 }
}

/// A prompt that cannot be generated from.
public struct GenerationError: Error, CustomStringConvertible {
    public let description: String
}

/// Lets another thread stop a generation between two tokens.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// The generation loop (DESIGN §5) as an iterator: each `next()` runs the model
/// once and returns one token, so the CLI, the server and the benchmark consume
/// tokens as they are produced. After the last token, `finishReason`,
/// `usage`, `timings` and `trailingText` describe the run.
public final class TokenGenerator: IteratorProtocol, Sequence {
    public let settings: GenerationSettings
    /// The seed in use: the given one, or a fresh one to report so the run can be repeated.
    public let seed: UInt64
    public let promptTokens: [Int]
    public private(set) var generatedTokens: [Int] = []
    public private(set) var finishReason: FinishReason?
    /// Bytes of an unfinished character left at the end, as U+FFFD (usually empty).
    public private(set) var trailingText = ""
    public private(set) var timings = GenerationTimings()
    /// With `settings.scorePrompt`, each prompt token's log-probability (nil for
    /// the first), set by the first step.
    public private(set) var promptScores: [TokenLogprob?]?
    public let cancellation: CancellationFlag

    private let model: Model
    private let tokenizer: Tokenizer?
    private let state: RunState
    private let sampler: Sampler
    private var random: Xoshiro256StarStar
    private var textDecoder = UTF8StreamDecoder()
    private var stopStrings: StopStrings
    private var context: [Int]  // prompt + generated: what the window slides over
    private var decodedScalars = 0  // Unicode scalars of generated text decoded so far
    private var window: [Int]?  // the window pass under way (it may run in pieces), until its token is sampled
    private var scorer: Scorer?  // scoring the prompt, under way (settings.scorePrompt)
    private var windowStarted = ContinuousClock.now

    /// Generates from `prompt` encoded by `tokenizer`.
    public convenience init(model: Model, tokenizer: Tokenizer, prompt: String, settings: GenerationSettings,
                            cancellation: CancellationFlag = CancellationFlag()) throws {
        let tokens = tokenizer.encode(prompt)
        guard !tokens.isEmpty else { throw GenerationError(description: "the prompt is empty: it encodes to no tokens") }
        try self.init(model: model, tokenizer: tokenizer, promptTokens: tokens, settings: settings, cancellation: cancellation)
    }

    /// Generates from token ids; without a tokenizer, tokens carry no text (benchmarks).
    public init(model: Model, tokenizer: Tokenizer?, promptTokens: [Int], settings: GenerationSettings,
                cancellation: CancellationFlag = CancellationFlag()) throws {
        try settings.validate(for: model.config)
        guard !promptTokens.isEmpty else { throw GenerationError(description: "the prompt is empty: it encodes to no tokens") }
        let V = model.config.vocabularySize
        if let bad = promptTokens.first(where: { $0 < 0 || $0 >= V }) {
            throw GenerationError(description: "prompt token id \(bad) is outside the model's vocabulary (0..<\(V)); do the tokenizer and checkpoint belong together?")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.promptTokens = promptTokens
        self.cancellation = cancellation
        self.seed = settings.seed ?? GenerationSettings.freshSeed()
        random = Xoshiro256StarStar(seed: seed)
        sampler = Sampler(settings)
        state = model.makeState(capacity: settings.maxSeqLen)
        context = promptTokens
        stopStrings = StopStrings(settings.stop)
    }

    public var usage: GenerationUsage {
        GenerationUsage(promptTokens: promptTokens.count, generatedTokens: generatedTokens.count)
    }

    public func next() -> GeneratedToken? {
        let started = ContinuousClock.now
        switch nextStep() {
        case .over:
            return nil
        case .decode(let token, let state):
            return complete(logits: model.forward([token], state: state), started: started)
        case .score(let tokens, let state, let scored):
            completeScore(logits: model.forward(segments: [(tokens, state, scored ? .all : .none)])[0])
            return next()
        case .window(let chunk, let state, let last):
            let logits = model.forward(segments: [(Array(chunk), state, last ? .last : .none)])[0]
            return last ? complete(logits: logits!, started: started) : next()
        }
    }

    /// The size of the next piece of a window pass with `remaining` tokens
    /// left, given at most `limit` (at least 2): never a piece of one token
    /// out of a longer pass, since a one-row segment takes the decode path
    /// and its other bits (`Model.isStep`). Any pieces of two or more give
    /// the same bits as the whole pass, so the server may cut a long prompt
    /// as the other streams allow and still match the CLI, which runs it whole.
    package static func windowPiece(remaining: Int, limit: Int) -> Int {
        let limit = Swift.max(2, limit)
        return remaining - 1 <= limit ? remaining : limit
    }

    /// What the next token needs from the model.
    package enum Step {
        /// Nothing: the generation is over (`next()` returns nil).
        case over
        /// One token on the KV cache: batchable with other generations' (`Model.forward(batch:states:)`).
        case decode(token: Int, state: RunState)
        /// The next piece (see ``windowPiece(remaining:limit:)``) of a pass
        /// over the whole window (the first, or after it slid: positions
        /// shifted, so it is recomputed whole), to run on `state`
        /// (`Model.forward(segments:)`). The `last` piece's logits go to
        /// `complete(logits:started:)`.
        case window(chunk: ArraySlice<Int>, state: RunState, last: Bool)
        /// The next piece of scoring the prompt (`settings.scorePrompt`), before
        /// the first token: run `tokens` on `state`, with every position's
        /// logits when `scored`, and hand them to `completeScore(logits:)`.
        case score(tokens: [Int], state: RunState, scored: Bool)
    }

    /// Ends the generation if it is cancelled or complete; otherwise says what
    /// the next token needs, with a window pass's next piece at most
    /// `windowRows` tokens (about: see ``windowPiece(remaining:limit:)``).
    /// A caller that runs a step itself hands the logits to `complete(logits:started:)`.
    package func nextStep(windowRows: Int = .max) -> Step {
        guard finishReason == nil else { return .over }
        if cancellation.isCancelled {
            _ = finish(.cancelled)
            return .over
        }
        if settings.scorePrompt && promptScores == nil {
            let scorer = scorer ?? Scorer(promptTokens, model: model, window: settings.maxSeqLen,
                                          alternatives: settings.logprobs ?? 0)
            self.scorer = scorer
            if let piece = scorer.nextPiece(maxRows: windowRows) {
                return .score(tokens: piece.tokens, state: piece.state, scored: piece.scored)
            }
            promptScores = scorer.scores
            self.scorer = nil
        }
        if generatedTokens.count >= settings.numTokens {
            _ = finish(.length)
            return .over
        }
        if let window {
            let remaining = window.count - state.length
            let piece = Self.windowPiece(remaining: remaining, limit: windowRows)
            return .window(chunk: window[state.length...].prefix(piece), state: state, last: piece == remaining)
        }
        // Until the window slides, the cache holds every earlier position.
        if state.length > 0 && state.length < settings.maxSeqLen {
            return .decode(token: context[context.count - 1], state: state)
        }
        state.reset()
        window = Array(context.suffix(settings.maxSeqLen))
        windowStarted = .now
        return nextStep(windowRows: windowRows)
    }

    /// Takes the logits of a `.score` step's piece (nil for a piece without them).
    package func completeScore(logits: [Float]?) {
        guard let scorer else { return }
        scorer.complete(logits: logits)
        if scorer.isDone {
            promptScores = scorer.scores
            self.scorer = nil
        }
    }

    /// Samples the next token from `logits` (the model's output for the step
    /// `nextStep()` asked for, begun at `started`) and returns it, or nil if it ends the generation.
    package func complete(logits: [Float], started: ContinuousClock.Instant) -> GeneratedToken? {
        let id = sampler.sample(logits, context: context, generated: generatedTokens.count, using: &random)
        let elapsed = (ContinuousClock.now - (window == nil ? started : windowStarted)) / .milliseconds(1)
        window = nil
        if generatedTokens.isEmpty {
            timings.prefillMilliseconds = elapsed
        } else {
            timings.decodeMilliseconds += elapsed
            timings.decodedTokens += 1
        }

        if id == settings.eosId { return finish(.eos) }
        generatedTokens.append(id)
        context.append(id)
        let logprob = settings.logprobs.map { TokenLogprob(id: id, logits: logits, alternatives: $0) }
        let text = tokenizer.map { textDecoder.append($0.tokenBytes(id)) } ?? ""
        let offset = decodedScalars
        decodedScalars += text.unicodeScalars.count
        guard !stopStrings.isEmpty else { return GeneratedToken(id: id, text: text, textOffset: offset, logprob: logprob) }
        let (released, stopped) = stopStrings.push(text)
        if stopped { finishReason = .stop }  // this token is the last; nothing after the match is returned
        return GeneratedToken(id: id, text: released, textOffset: offset, logprob: logprob)
    }

    private func finish(_ reason: FinishReason) -> GeneratedToken? {
        finishReason = reason
        let (tail, stopped) = stopStrings.push(textDecoder.finish())
        trailingText = stopped ? tail : tail + stopStrings.flush()
        return nil
    }
}

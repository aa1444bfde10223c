import ArgumentParser
import Foundation
import GPT

/// `gpt-score`: how well the model predicts text files, as perplexity and bits
/// per character (the measure of llama.cpp's `llama-perplexity`). Scores
/// with a sliding window (`Scoring`); parsing and printing only.
struct GPTScore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt-score",
        abstract: "Perplexity and bits per character of text files under a GPT-2 model.",
        discussion: """
            Each file is encoded whole and every token but the first is scored from the tokens before it, \
            at most --max_seq_len of them: windows of --max_seq_len tokens, each --stride tokens after the \
            last, each scoring only the tokens no earlier window scored. Perplexity = exp(mean negative \
            log-probability per scored token); bits per character = the summed negative log-probabilities \
            / ln 2 / the characters (Unicode scalars) those tokens hold.
            """
    )

    @Argument(help: "Text files (UTF-8) to score, each on its own.")
    var files: [String]

    @Option(name: .customLong("ckpt"), help: "Model: a GGUF file, an llm.c checkpoint (f32 or bf16), or a Hugging Face folder; recognised from the content.")
    var checkpoint: String?

    @Option(name: .customLong("tokenizer"), help: "Hugging Face tokenizer.json (default with --ckpt: the model's own, or the tokenizer.json beside it).")
    var tokenizer: String?

    @Option(name: .customLong("max_seq_len"), parsing: .unconditional,
            help: "Tokens the model sees at once (default: the model's context).")
    var maxSeqLen: Int?

    @Option(name: .customLong("stride"), parsing: .unconditional,
            help: "Tokens from one window to the next, 1 ... max_seq_len (default: half the window).")
    var stride: Int?

    func validate() throws {
        if let maxSeqLen, maxSeqLen < 1 { throw ValidationError("--max_seq_len must be 1 or more (got \(maxSeqLen))") }
        if let stride, stride < 1 { throw ValidationError("--stride must be 1 or more (got \(stride))") }
    }

    func run() throws {
        let paths = BundledModel.files(checkpoint: checkpoint, tokenizer: tokenizer)
        if let bundled = paths.bundled { printError("gpt-score: using the bundled model in \(bundled.path)") }
        let textModel: TextModel
        do {
            textModel = try TextModel(checkpointPath: paths.checkpoint, tokenizerPath: paths.tokenizer)
        } catch {
            throw RuntimeFailure(message: "\(error)")
        }
        let context = textModel.config.maxT
        let window = maxSeqLen ?? context
        guard window <= context else {
            throw ValidationError("--max_seq_len must be between 1 and the model's context length \(context) (got \(window))")
        }
        let stride = stride ?? Scoring.defaultStride(window: window)
        guard stride <= window else {
            throw ValidationError("--stride must be between 1 and --max_seq_len \(window) (got \(stride))")
        }
        print("model \(paths.checkpoint), window \(window) tokens, stride \(stride)")

        var total = Tally()
        for file in files {
            let tally = try score(file, textModel: textModel, window: window, stride: stride)
            print("\(file): \(tally.summary)")
            total.add(tally)
        }
        if files.count > 1 { print("all \(files.count) files: \(total.summary)") }
    }

    private func score(_ file: String, textModel: TextModel, window: Int, stride: Int) throws -> Tally {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw RuntimeFailure(message: "cannot read \(file)")
        }
        guard let text = String(validating: [UInt8](data), as: UTF8.self) else {
            throw RuntimeFailure(message: "\(file) is not UTF-8 text")
        }
        let tokens = textModel.tokenizer.encode(text)
        guard tokens.count >= 2 else {
            throw RuntimeFailure(message: "\(file) encodes to \(tokens.count) token(s); scoring needs at least 2")
        }
        let bar = ProgressBar(label: file, total: tokens.count)
        let scores = Scoring.score(tokens, model: textModel.model, window: window, stride: stride,
                                   progress: { bar.show($0) })
        bar.finish()
        let characters = textModel.tokenizer.decode(Array(tokens.dropFirst())).unicodeScalars.count
        return Tally(tokens: scores.count - 1, characters: characters,
                     nats: -scores.reduce(0) { $0 + ($1?.logprob ?? 0) })
    }
}

/// Summed negative log-probabilities and what they were summed over.
struct Tally {
    var tokens = 0
    var characters = 0
    var nats = 0.0

    mutating func add(_ other: Tally) {
        tokens += other.tokens
        characters += other.characters
        nats += other.nats
    }

    var perplexity: Double { exp(nats / Double(tokens)) }
    var bitsPerCharacter: Double { nats / log(2) / Double(characters) }

    var summary: String {
        String(format: "%d tokens scored, %d characters, %.6f nats/token, perplexity %.6f, bits per character %.6f",
               tokens, characters, nats / Double(tokens), perplexity, bitsPerCharacter)
    }
}

/// A bar on stderr that redraws in place, when stderr is a terminal (a log file gets nothing).
final class ProgressBar {
    private let label: String
    private let total: Int
    private let enabled = isatty(STDERR_FILENO) == 1
    private var shownPercent = -1

    init(label: String, total: Int) {
        self.label = label
        self.total = total
    }

    func show(_ done: Int) {
        let percent = done * 100 / total
        guard enabled, percent != shownPercent else { return }
        shownPercent = percent
        let width = 30
        let filled = done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(percent)% \(done)/\(total) tokens".utf8))
    }

    func finish() {
        if enabled && shownPercent >= 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// A failure while running (missing or unreadable files): exit status 1, unlike usage errors (2).
struct RuntimeFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

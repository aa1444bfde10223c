import ArgumentParser
import Foundation
import GPT

/// `generate`: the documented flags (DESIGN §6) plus --seed and --top_p.
/// Parsing and printing only; the engine does the rest. Numeric options take
/// their value unconditionally, so `--eos_id -1` reads -1 rather than a flag.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a GPT-2 model, streaming the text as it is produced."
    )

    @Option(name: .customLong("prompt"), help: "Text to continue (required).")
    var prompt: String

    @Option(name: .customLong("num_tokens"), parsing: .unconditional, help: "New tokens to generate.")
    var numTokens = 50

    @Option(name: .customLong("max_seq_len"), parsing: .unconditional, help: "Tokens the model sees at once (1 ... the model's context).")
    var maxSeqLen = 32

    @Option(name: .customLong("ckpt"), help: "Model: a GGUF file, an llm.c checkpoint (f32 or bf16), or a Hugging Face folder; recognised from the content.")
    var checkpoint: String?

    @Option(name: .customLong("tokenizer"), help: "Hugging Face tokenizer.json (default with --ckpt: the model's own, or the tokenizer.json beside it).")
    var tokenizer: String?

    @Option(name: .customLong("top_k"), parsing: .unconditional, help: "Sample from the k most likely tokens (0 = all, 1 = greedy).")
    var topK = 5

    @Option(name: .customLong("top_p"), parsing: .unconditional, help: "Nucleus sampling: keep the most likely tokens up to this mass (1 = off).")
    var topP: Float = 1.0

    @Option(name: .customLong("temp"), parsing: .unconditional, help: "Temperature (0 = greedy).")
    var temperature: Float = 1.0

    @Option(name: .customLong("eos_id"), parsing: .unconditional, help: "Stop when this token is generated (-1 = never).")
    var eosId = -1

    @Option(name: .customLong("seed"), parsing: .unconditional, help: "Seed for reproducible sampling (default: random, printed on stderr).")
    var seed: UInt64?

    @Option(name: .customLong("stream"), help: "Print each token as it is produced (true) or all text at the end (false).")
    var stream = true

    @Option(name: .customLong("delay_ms"), parsing: .unconditional, help: "Pause between streamed tokens, in milliseconds.")
    var delayMilliseconds = 0

    static let defaultCheckpoint = "gpt_checkpoint.bin"
    static let defaultTokenizer = "tokenizer.json"

    /// Usage errors before any file is read; the model's own limits are checked once it is loaded.
    func validate() throws {
        if prompt.isEmpty { throw ValidationError("--prompt must not be empty") }
        if delayMilliseconds < 0 { throw ValidationError("--delay_ms must be 0 or more (got \(delayMilliseconds))") }
        try checkSettings(for: nil)
    }

    func checkSettings(for config: GPTConfig?) throws {
        do throws(SettingsError) {
            try settings.validate(for: config)
        } catch {
            throw ValidationError("--\(error.field) \(error.problem)")
        }
    }

    var settings: GenerationSettings {
        GenerationSettings(numTokens: numTokens, maxSeqLen: maxSeqLen, topK: topK, temperature: temperature,
                           topP: topP, eosId: eosId, seed: seed)
    }

    /// The files to load: the flags, else the defaults in the current directory,
    /// else the bundled Shakespeare model (said on stderr). With --ckpt but no
    /// --tokenizer, the tokenizer is the model's own (nil here; see `TextModel`).
    func modelPaths() -> (checkpoint: String, tokenizer: String?) {
        if let checkpoint { return (checkpoint, tokenizer) }
        let files = FileManager.default
        var checkpointPath = Self.defaultCheckpoint
        var tokenizerPath = tokenizer ?? Self.defaultTokenizer
        let useBundled = !files.fileExists(atPath: checkpointPath)
            || (tokenizer == nil && !files.fileExists(atPath: tokenizerPath))
        if useBundled, let bundled = BundledModel.locate() {
            checkpointPath = bundled.appendingPathComponent(Self.defaultCheckpoint).path
            if tokenizer == nil {
                tokenizerPath = bundled.appendingPathComponent(Self.defaultTokenizer).path
            }
            printError("generate: using the bundled model in \(bundled.path)")
        }
        return (checkpointPath, tokenizerPath)
    }

    func run() throws {
        let paths = modelPaths()
        let textModel: TextModel
        do {
            textModel = try TextModel(checkpointPath: paths.checkpoint, tokenizerPath: paths.tokenizer)
        } catch {
            throw RuntimeFailure(message: "\(error)")
        }
        try checkSettings(for: textModel.config)
        let generator = try textModel.generator(prompt: prompt, settings: settings)

        let output = StandardOutput()
        output.write(prompt)
        output.flush()
        for token in generator {
            output.write(token.text)
            if stream {
                output.flush()
                if delayMilliseconds > 0 { usleep(UInt32(min(delayMilliseconds, 3_600_000)) * 1000) }
            }
        }
        output.write(generator.trailingText + "\n")
        output.flush()

        let timings = generator.timings
        printError(String(format: "generate: %d tokens (%@), prefill %.1f ms for %d prompt tokens, %.2f ms/token, seed %llu",
                          generator.usage.generatedTokens, generator.finishReason?.rawValue ?? "-",
                          timings.prefillMilliseconds, generator.usage.promptTokens,
                          timings.millisecondsPerToken, generator.seed))
    }
}

/// A failure while running (missing or corrupt files): exit status 1, unlike usage errors (2).
struct RuntimeFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Buffered standard output that keeps text as bytes until flushed.
final class StandardOutput {
    private var buffer: [UInt8] = []
    func write(_ text: String) { buffer.append(contentsOf: text.utf8) }
    func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

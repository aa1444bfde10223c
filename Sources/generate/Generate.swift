import ArgumentParser
import Foundation
import GPT
import JSON

/// `generate`: the documented flags (DESIGN §6) plus --seed and --top_p.
/// Parsing and printing only; the engine does the rest. Numeric options take
/// their value unconditionally, so `--eos_id -1` reads -1 rather than a flag.
struct Generate: ParsableCommand {
    /// The engine's defaults: the server's built-in ones too (scripts/fields_test.py compares this help with them).
    private static let defaults = GenerationSettings()

    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a GPT-2 model, streaming the text as it is produced."
    )

    @Option(name: .customLong("prompt"), help: "Text to continue (required).")
    var prompt: String

    @Option(name: .customLong("num_tokens"), parsing: .unconditional, help: "New tokens to generate.")
    var numTokens = Self.defaults.numTokens

    @Option(name: .customLong("max_seq_len"), parsing: .unconditional, help: "Tokens the model sees at once (1 ... the model's context).")
    var maxSeqLen = Self.defaults.maxSeqLen

    @Option(name: .customLong("ckpt"), help: "Model: a GGUF file, an llm.c checkpoint (f32 or bf16), or a Hugging Face folder; recognised from the content.")
    var checkpoint: String?

    @Option(name: .customLong("tokenizer"), help: "Hugging Face tokenizer.json (default with --ckpt: the model's own, or the tokenizer.json beside it).")
    var tokenizer: String?

    @Option(name: .customLong("top_k"), parsing: .unconditional, help: "Sample from the k most likely tokens (0 = all, 1 = greedy).")
    var topK = Self.defaults.topK

    @Option(name: .customLong("top_p"), parsing: .unconditional, help: "Nucleus sampling: keep the most likely tokens up to this mass (1 = off).")
    var topP = Self.defaults.topP

    @Option(name: .customLong("temp"), parsing: .unconditional, help: "Temperature (0 = greedy).")
    var temperature = Self.defaults.temperature

    @Option(name: .customLong("eos_id"), parsing: .unconditional, help: "Stop when this token is generated (-1 = never).")
    var eosId = Self.defaults.eosId

    @Option(name: .customLong("seed"), parsing: .unconditional, help: "Seed for reproducible sampling (default: random, printed on stderr).")
    var seed: UInt64?

    @Option(name: .customLong("min_p"), parsing: .unconditional, help: "Drop tokens less likely than this fraction of the most likely one (0 = off).")
    var minP = Self.defaults.minP

    @Option(name: .customLong("repeat_penalty"), parsing: .unconditional, help: "Penalise tokens among the last --repeat_last_n (1 = off).")
    var repeatPenalty = Self.defaults.repeatPenalty

    @Option(name: .customLong("repeat_last_n"), parsing: .unconditional, help: "How many of the latest tokens the penalties look at (0 = none).")
    var repeatLastN = Self.defaults.repeatLastN

    @Option(name: .customLong("presence_penalty"), parsing: .unconditional, help: "Subtracted once from each recent token's logit (-2 ... 2).")
    var presencePenalty = Self.defaults.presencePenalty

    @Option(name: .customLong("frequency_penalty"), parsing: .unconditional, help: "Subtracted per occurrence from each recent token's logit (-2 ... 2).")
    var frequencyPenalty = Self.defaults.frequencyPenalty

    @Option(name: .customLong("stop"),
            help: "Stop when the text contains this string, which is not printed (repeat for several, at most 16).")
    var stop: [String] = []

    @Option(name: .customLong("logit_bias"), parsing: .unconditional,
            help: "Biases as ID=BIAS[,ID=BIAS...] (-100 ... 100; -100 bans the token).")
    var logitBias: String?

    @Flag(name: .customLong("ignore_eos"), help: "Never draw --eos_id.")
    var ignoreEOS = Self.defaults.ignoreEOS

    @Option(name: .customLong("min_tokens"), parsing: .unconditional, help: "Do not draw --eos_id before this many tokens.")
    var minTokens = Self.defaults.minTokens

    @Option(name: .customLong("logprobs"), parsing: .unconditional,
            help: "After the text, list each generated token's log-probability and this many likely alternatives on stderr (0 ... 20).")
    var logprobs: Int?

    @Option(name: .customLong("stream"), help: "Print each token as it is produced (true) or all text at the end (false).")
    var stream = true

    @Option(name: .customLong("delay_ms"), parsing: .unconditional, help: "Pause between streamed tokens, in milliseconds.")
    var delayMilliseconds = 0

    /// Usage errors before any file is read; the model's own limits are checked once it is loaded.
    func validate() throws {
        if prompt.isEmpty { throw ValidationError("--prompt must not be empty") }
        if delayMilliseconds < 0 { throw ValidationError("--delay_ms must be 0 or more (got \(delayMilliseconds))") }
        _ = try parsedLogitBias()
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
        var settings = GenerationSettings(numTokens: numTokens, maxSeqLen: maxSeqLen, topK: topK, temperature: temperature,
                                          topP: topP, eosId: eosId, seed: seed, stop: stop, logprobs: logprobs)
        settings.minP = minP
        settings.repeatPenalty = repeatPenalty
        settings.repeatLastN = repeatLastN
        settings.presencePenalty = presencePenalty
        settings.frequencyPenalty = frequencyPenalty
        settings.logitBias = (try? parsedLogitBias()) ?? [:]  // checked in validate()
        settings.ignoreEOS = ignoreEOS
        settings.minTokens = minTokens
        return settings
    }

    /// `--logit_bias 50256=-100,13=2.5` as a map; its ranges are the engine's to check.
    func parsedLogitBias() throws -> [Int: Float] {
        guard let logitBias else { return [:] }
        var biases: [Int: Float] = [:]
        for entry in logitBias.split(separator: ",") {
            let parts = entry.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let id = Int(parts[0].trimmingCharacters(in: .whitespaces)),
                  let bias = Float(parts[1].trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--logit_bias must be ID=BIAS pairs separated by commas, such as 50256=-100,13=2.5 (got \"\(entry)\")")
            }
            biases[id] = bias
        }
        return biases
    }

    /// The files to load: the flags, else the defaults in the current directory,
    /// else the bundled Shakespeare model (said on stderr). With --ckpt but no
    /// --tokenizer, the tokenizer is the model's own (nil here; see `TextModel`).
    func modelPaths() -> (checkpoint: String, tokenizer: String?) {
        let files = BundledModel.files(checkpoint: checkpoint, tokenizer: tokenizer)
        if let bundled = files.bundled { printError("generate: using the bundled model in \(bundled.path)") }
        return (files.checkpoint, files.tokenizer)
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
        var scored: [TokenLogprob] = []
        for token in generator {
            if let logprob = token.logprob { scored.append(logprob) }
            output.write(token.text)
            if stream {
                output.flush()
                if delayMilliseconds > 0 { usleep(UInt32(min(delayMilliseconds, 3_600_000)) * 1000) }
            }
        }
        output.write(generator.trailingText + "\n")
        output.flush()
        if logprobs != nil { printLogprobs(scored, tokenizer: textModel.tokenizer) }

        let timings = generator.timings
        printError(String(format: "generate: %d tokens (%@), prefill %.1f ms for %d prompt tokens, %.2f ms/token, seed %llu",
                          generator.usage.generatedTokens, generator.finishReason?.rawValue ?? "-",
                          timings.prefillMilliseconds, generator.usage.promptTokens,
                          timings.millisecondsPerToken, generator.seed))
    }
}

/// One line per token on stderr: its log-probability, its piece (as JSON, so
/// spaces and newlines show), then the alternatives as piece=logprob.
func printLogprobs(_ scored: [TokenLogprob], tokenizer: Tokenizer) {
    printError("generate: logprob  token  alternatives (the model's raw distribution, natural log)")
    for score in scored {
        let alternatives = score.top.map { "\(tokenizer.piece($0.id).jsonQuoted)=\(String(format: "%.4f", $0.logprob))" }
        printError(String(format: "%8.4f  ", score.logprob) + tokenizer.piece(score.id).jsonQuoted + "  "
                   + alternatives.joined(separator: " "))
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

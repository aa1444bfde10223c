import ArgumentParser
import Foundation
import GPT
import Training

/// `gpt-train`: trains a tokenizer (unless given one) and a GPT-2 model on a
/// text corpus, writing `gpt_checkpoint.bin`, `optimizer.bin` and
/// `tokenizer.json` into `--out`.
struct GPTTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt-train",
        abstract: "Train a GPT-2 model (and its BPE tokenizer) on a text file or a folder of .txt files.",
        discussion: """
            Documents are joined with <|endoftext|>. The checkpoint and optimizer state are saved every \
            --ckpt-every steps, at the end, and on Ctrl-C (SIGINT) or SIGTERM; --resume continues from them.
            """
    )

    @Option(name: .customLong("data-path"), help: "Training text: a UTF-8 file or a folder of .txt files.")
    var dataPath: String

    @Option(name: .customLong("val-path"), help: "Validation text (file or folder); without it no validation loss is measured.")
    var valPath: String?

    @Option(help: "An existing tokenizer.json to use instead of training one.")
    var tokenizer: String?

    @Option(name: .customLong("vocab-size"), help: "Tokens in a newly trained tokenizer, <|endoftext|> included.")
    var vocabSize = 4096

    @Option(help: "Channels C of the model. (default: 256)") var dim: Int?
    @Option(help: "Attention heads NH; must divide --dim. (default: 4)") var heads: Int?
    @Option(help: "Transformer layers L. (default: 6)") var layers: Int?
    @Option(help: "Context length T: tokens per training window, and the model's maxT. (default: 256)") var seq: Int?

    @Option(help: "Windows per step B.") var batch = 8
    @Option(help: "Total optimizer steps (a resumed run continues up to this).") var steps = 3500
    @Option(help: "Peak learning rate.") var lr: Float = 1e-3
    @Option(help: "Linear warmup steps before the cosine decay (to 10% of --lr).") var warmup = 100
    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay on the weight matrices.") var weightDecay: Float = 0.1
    @Option(name: .customLong("grad-clip"), help: "Clip the global gradient norm to this (0 = off).") var gradClip: Float = 1.0
    @Option(help: "Seed for the initial weights and the batches.") var seed: UInt64 = 1337

    @Option(name: .customLong("log-every"), help: "Print a progress line every this many steps.") var logEvery = 10
    @Option(name: .customLong("eval-every"), help: "Estimate the validation loss every this many steps (0 = only at the end).")
    var evalEvery = 200
    @Option(name: .customLong("eval-windows"), help: "Windows of --seq tokens, spread over the validation text, for the estimate.")
    var evalWindows = 64
    @Option(name: .customLong("ckpt-every"), help: "Save the checkpoint every this many steps (0 = only at the end).")
    var ckptEvery = 500

    @Option(help: "Output folder for gpt_checkpoint.bin, optimizer.bin and tokenizer.json.") var out = "out"
    @Flag(help: "Continue the run saved in --out (its checkpoint, optimizer state, data seed and tokenizer); pass the same --batch, --steps, --lr, --warmup and --weight-decay again.") var resume = false
    @Option(help: "Compute threads.") var threads = ProcessInfo.processInfo.activeProcessorCount

    static let defaultShape = (dim: 256, heads: 4, layers: 6, seq: 256)

    func validate() throws {
        func positive(_ value: Int?, _ flag: String) throws {
            if let value, value < 1 { throw ValidationError("--\(flag) must be at least 1 (got \(value))") }
        }
        try positive(dim, "dim"); try positive(heads, "heads"); try positive(layers, "layers"); try positive(seq, "seq")
        try positive(batch, "batch"); try positive(steps, "steps"); try positive(logEvery, "log-every")
        try positive(threads, "threads"); try positive(evalWindows, "eval-windows")
        if vocabSize < 257 { throw ValidationError("--vocab-size must be at least 257: 256 bytes and <|endoftext|> (got \(vocabSize))") }
        if let dim, let heads, dim % heads != 0 { throw ValidationError("--heads (\(heads)) must divide --dim (\(dim))") }
        if !(lr.isFinite && lr > 0) { throw ValidationError("--lr must be a positive number (got \(lr))") }
        if !(weightDecay.isFinite && weightDecay >= 0) { throw ValidationError("--weight-decay must be 0 or more (got \(weightDecay))") }
        if !(gradClip.isFinite && gradClip >= 0) { throw ValidationError("--grad-clip must be 0 or more (got \(gradClip))") }
        if warmup < 0 { throw ValidationError("--warmup must be 0 or more (got \(warmup))") }
        if evalEvery < 0 || ckptEvery < 0 { throw ValidationError("--eval-every and --ckpt-every must be 0 or more") }
        if resume && tokenizer != nil { throw ValidationError("--resume uses the tokenizer saved in --out; do not pass --tokenizer") }
    }

    func run() throws {
        ComputeThreads.set(threads)
        try TrainingRun(options: self).run()
    }
}

import ArgumentParser
import Foundation
import GPT

/// Writes a randomly initialised model in the checkpoint format, for tests and benchmarks.
struct RandomModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt-random-model",
        abstract: "Write a GPT-2 checkpoint with random weights (GPT-2 initialisation).",
        discussion: "Give a preset (\(GPTConfig.presets.keys.sorted().joined(separator: ", "))) or every dimension."
    )

    @Option(help: "Output checkpoint path.")
    var out: String

    @Option(help: "A named shape; dimension flags override its fields.")
    var preset: String?

    @Option(help: "maxT: context length.") var context: Int?
    @Option(help: "V: vocabulary size.") var vocab: Int?
    @Option(help: "L: layers.") var layers: Int?
    @Option(help: "NH: attention heads.") var heads: Int?
    @Option(help: "C: channels (a multiple of heads).") var channels: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 1

    func run() throws {
        var config: GPTConfig
        if let preset {
            guard let named = GPTConfig.presets[preset] else {
                throw ValidationError("unknown --preset \(preset); choose one of \(GPTConfig.presets.keys.sorted().joined(separator: ", "))")
            }
            config = named
        } else {
            guard context != nil, vocab != nil, layers != nil, heads != nil, channels != nil else {
                throw ValidationError("give --preset, or all of --context --vocab --layers --heads --channels")
            }
            config = GPTConfig(maxT: 1, vocabularySize: 1, layers: 1, heads: 1, channels: 1)
        }
        config = GPTConfig(maxT: context ?? config.maxT, vocabularySize: vocab ?? config.vocabularySize,
                           layers: layers ?? config.layers, heads: heads ?? config.heads, channels: channels ?? config.channels)
        for (name, value) in [("context", config.maxT), ("vocab", config.vocabularySize), ("layers", config.layers),
                              ("heads", config.heads), ("channels", config.channels)] where value < 1 || value > Int(Int32.max) {
            throw ValidationError("--\(name) must be a positive 32-bit integer (got \(value))")
        }
        guard config.channels % config.heads == 0 else {
            throw ValidationError("--channels (\(config.channels)) must be a multiple of --heads (\(config.heads))")
        }
        let parameters = CheckpointWriter.randomParameters(config: config, seed: seed)
        try CheckpointWriter.write(config: config, parameters: parameters, to: out)
        print("wrote \(out): maxT=\(config.maxT) V=\(config.vocabularySize) L=\(config.layers) NH=\(config.heads) C=\(config.channels), \(config.effectiveParameterCount) parameters")
    }
}

RandomModel.main()

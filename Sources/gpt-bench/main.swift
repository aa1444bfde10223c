import ArgumentParser
import Foundation
import GPT

/// Throughput of prefill and decode, in the spirit of llama-bench.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt-bench",
        abstract: "Measure prefill and decode tokens/s of a checkpoint or a synthetic model shape."
    )

    @Option(help: "Model to measure: a GGUF file, an llm.c checkpoint or a Hugging Face folder.") var model: String?
    @Option(help: "Synthetic model shape instead of a file: \(GPTConfig.presets.keys.sorted().joined(separator: ", ")).")
    var synthetic: String?
    @Option(name: .customLong("prompt-tokens"), help: "Prompt length for the prefill test.") var promptTokens = 512
    @Option(name: .customLong("decode-tokens"), help: "Tokens generated in the decode test.") var decodeTokens = 128
    @Option(help: "Compute threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Measured repetitions of each test (after one warm-up).") var repetitions = 3
    @Flag(help: "Print one JSON line instead of a table.") var json = false
    @Option(name: .customLong("busy-neighbours"),
            help: "Busy-looping processes to run alongside, as on a shared machine.") var busyNeighbours = 0
    @Flag(help: "Also measure the machine's memory read bandwidth and give decode as a fraction of it.")
    var bandwidth = false
    @Option(name: .customLong("prefill-piece"),
            help: "Prefill the prompt in pieces of this many tokens (as the server does beside running streams) instead of one pass.")
    var prefillPiece: Int?
    @Option(name: .customLong("beside-steps"),
            help: "With --prefill-piece: each piece's pass also takes a decode step of this many other sequences, as a server's turn does beside running streams.")
    var besideSteps = 0
    @Option(help: "Sequences decoded together, a step of each per pass, as the server batches its streams' steps (decode then reports their total tokens/s).")
    var sequences = 1
    @Flag(name: .customLong("huge-pages"),
          help: "Copy the weights into transparent huge pages at load (the server's huge_pages setting) instead of reading them from the mapped file.")
    var hugePages = false
    @Option(help: "Kernels' instruction set: \(InstructionSet.allCases.map(\.rawValue).joined(separator: ", ")) (default: the best this CPU has; a higher one than the CPU has falls back to its best).")
    var isa: String?

    func validate() throws {
        guard (model == nil) != (synthetic == nil) else { throw ValidationError("give exactly one of --model or --synthetic") }
        if let synthetic, GPTConfig.presets[synthetic] == nil {
            throw ValidationError("unknown --synthetic \(synthetic); choose one of \(GPTConfig.presets.keys.sorted().joined(separator: ", "))")
        }
        guard promptTokens >= 1, decodeTokens >= 1, repetitions >= 1, threads >= 1 else {
            throw ValidationError("--prompt-tokens, --decode-tokens, --repetitions and --threads must be at least 1")
        }
        guard (0...64).contains(busyNeighbours) else { throw ValidationError("--busy-neighbours must be in 0...64") }
        if let prefillPiece, prefillPiece < 2 { throw ValidationError("--prefill-piece must be at least 2") }
        guard (1...64).contains(sequences) else { throw ValidationError("--sequences must be in 1...64") }
        guard (0...16).contains(besideSteps) else { throw ValidationError("--beside-steps must be in 0...16") }
        if besideSteps > 0, prefillPiece == nil { throw ValidationError("--beside-steps needs --prefill-piece") }
        if let isa, InstructionSet(rawValue: isa) == nil {
            throw ValidationError("unknown --isa \(isa); choose one of \(InstructionSet.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        ComputeThreads.set(threads)
        if let isa { InstructionSet.use(InstructionSet(rawValue: isa)!) }
        let clock = ContinuousClock()
        let loadStart = clock.now
        let weights: Weights
        let name: String
        var format = "synthetic", weightType = "f32", inHugePages = false
        if let model {
            let loaded: LoadedModel
            do { loaded = try LoadedModel(path: model, hugePages: hugePages) } catch { throw ExitMessage("\(error)") }
            (weights, format, weightType) = (loaded.weights, loaded.formatDescription, loaded.weightType)
            inHugePages = loaded.inHugePages
            name = model
        } else {
            let config = GPTConfig.presets[synthetic!]!
            let store = ParameterStore(config: config)
            CheckpointWriter.randomize(store.parameters, config: config, seed: 1)
            weights = store.weights
            name = "synthetic \(synthetic!)"
        }
        let loadMilliseconds = (clock.now - loadStart) / .milliseconds(1)
        let gpt = Model(weights: weights)
        let config = gpt.config
        guard promptTokens <= config.maxT, decodeTokens < config.maxT else {
            throw ValidationError("--prompt-tokens and --decode-tokens must fit the context of \(config.maxT)")
        }
        let neighbours = try BusyNeighbours(count: busyNeighbours)
        defer { neighbours.stop() }
        var random = Xoshiro256StarStar(seed: 7)
        let prompt = (0..<promptTokens).map { _ in Int(random.next() % UInt64(config.vocabularySize)) }

        // Other sequences beside the pieces start from one token and take a step in every piece's pass.
        let pieces = (promptTokens + (prefillPiece ?? promptTokens) - 1) / (prefillPiece ?? promptTokens) + 1
        guard besideSteps == 0 || pieces + 1 <= config.maxT else {
            throw ValidationError("--beside-steps: the sequences beside need \(pieces + 1) positions of the context's \(config.maxT)")
        }
        // Prefill: one pass over the whole prompt, or pieces as TokenGenerator cuts
        // them (the first run also faults the weights in).
        let prefill = measure { () -> Double in
            let state = gpt.makeState(capacity: promptTokens)
            let beside = (0..<besideSteps).map { _ in gpt.makeState(capacity: pieces + 1) }
            for other in beside { _ = gpt.forward(segments: [([prompt[0]], other, .none)]) }
            let start = clock.now
            while state.length < promptTokens {
                let piece = TokenGenerator.windowPiece(remaining: promptTokens - state.length, limit: prefillPiece ?? .max)
                let last = state.length + piece == promptTokens  // only the last piece's logits, as in a generation
                _ = gpt.forward(segments: [(Array(prompt[state.length..<state.length + piece]), state, last ? .last : .none)]
                                    + beside.map { ([prompt[$0.length % promptTokens]], $0, .last) })
            }
            return Double(promptTokens) / ((clock.now - start) / .seconds(1))
        }
        // Decode: the real generation loop (KV cache, sampling with the default top_k 5), one-token prompt;
        // or several sequences' steps in one pass each, their tokens taken from the prompt (sampling is not
        // what is measured there).
        let decode = measure { () -> Double in
            if sequences > 1 {
                let states = (0..<sequences).map { _ in gpt.makeState(capacity: decodeTokens + 1) }
                for (index, state) in states.enumerated() { _ = gpt.forward(segments: [([prompt[index % promptTokens]], state, .none)]) }
                let start = clock.now
                for step in 1...decodeTokens {
                    _ = gpt.forward(segments: states.enumerated().map { ([prompt[($0.offset + step) % promptTokens]], $0.element, .last) })
                }
                return Double(sequences * decodeTokens) / ((clock.now - start) / .seconds(1))
            }
            var settings = GenerationSettings()
            settings.numTokens = decodeTokens + 1
            settings.maxSeqLen = config.maxT
            settings.seed = 1
            let generator = try! TokenGenerator(model: gpt, tokenizer: nil, promptTokens: [prompt[0]], settings: settings)
            while generator.next() != nil {}
            return generator.timings.tokensPerSecond
        }

        neighbours.stop()
        let readBytesPerSecond = bandwidth ? Bandwidth.measure() : nil
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakRSS = Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
        let weightMB = Double(weights.storedBytes) / 1_048_576
        let cacheMB = Double(2 * config.layers * config.maxT * config.channels * 4) / 1_048_576
        let result = Result(model: name, format: format, weight_type: weightType, huge_pages: inHugePages,
                            instruction_set: InstructionSet.inUse.rawValue,
                            parameters: config.effectiveParameterCount, threads: threads, decode_sequences: sequences,
                            load_ms: loadMilliseconds, prompt_tokens: promptTokens, prefill_tokens_per_s: prefill.mean,
                            prefill_stddev: prefill.deviation, decode_tokens: decodeTokens,
                            decode_tokens_per_s: decode.mean, decode_stddev: decode.deviation,
                            peak_rss_mb: peakRSS, weights_mb: weightMB, kv_cache_mb: cacheMB,
                            busy_neighbours: busyNeighbours,
                            read_gb_per_s: readBytesPerSecond.map { $0 / 1e9 },
                            decode_fraction_of_bandwidth: readBytesPerSecond.map {
                                decode.mean * Double(weights.storedBytes) / $0
                            })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(result.table)
        }
    }

    /// Runs `test` once to warm up, then `repetitions` times: mean and standard deviation.
    func measure(_ test: () -> Double) -> (mean: Double, deviation: Double) {
        _ = test()
        let values = (0..<repetitions).map { _ in test() }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, values.count - 1))
        return (mean, variance.squareRoot())
    }
}

struct Result: Encodable {
    let model: String
    /// How the file stores the model ("GGUF v3", ...) and the type of its weight matrices.
    let format: String
    let weight_type: String
    /// Whether the weights were copied into huge pages (--huge-pages, where the kernel offers them).
    let huge_pages: Bool
    /// What the kernels ran on (portable, avx2 or avx512).
    let instruction_set: String
    let parameters: Int
    let threads: Int
    /// Sequences decoded together (decode_tokens_per_s is their total).
    let decode_sequences: Int
    let load_ms: Double
    let prompt_tokens: Int
    let prefill_tokens_per_s: Double
    let prefill_stddev: Double
    let decode_tokens: Int
    let decode_tokens_per_s: Double
    let decode_stddev: Double
    let peak_rss_mb: Double
    let weights_mb: Double
    let kv_cache_mb: Double
    let busy_neighbours: Int
    /// The machine's read bandwidth, and decode's share of it (a token reads every weight once).
    let read_gb_per_s: Double?
    let decode_fraction_of_bandwidth: Double?

    var table: String {
        let nameWidth = max(20, model.count + 2)
        func row(_ cells: [String]) -> String {
            zip(cells, [nameWidth, 10, 8, 8, 18]).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined()
        }
        let params = String(format: "%.1fM", Double(parameters) / 1e6)
        var lines = [
            "format \(format), weights \(weight_type)\(huge_pages ? " in huge pages" : ""), kernels \(instruction_set)"
                + (decode_sequences > 1 ? ", decode: \(decode_sequences) sequences together, total tokens/s" : "")
                + (busy_neighbours > 0 ? ", \(busy_neighbours) busy neighbour process(es) running" : ""),
            row(["model", "params", "threads", "test", "tokens/s"]),
            row([model, params, "\(threads)", "pp\(prompt_tokens)", String(format: "%.1f ± %.1f", prefill_tokens_per_s, prefill_stddev)]),
            row([model, params, "\(threads)", "tg\(decode_tokens)", String(format: "%.1f ± %.1f", decode_tokens_per_s, decode_stddev)]),
            String(format: "load %.1f ms%@, peak RSS %.0f MB (weights %.0f MB, KV cache at full context %.0f MB)",
                   load_ms, model.hasPrefix("synthetic") ? " (making random weights)"
                       : huge_pages ? " (map, validate, copy)" : " (map + validate)",
                   peak_rss_mb, weights_mb, kv_cache_mb),
        ]
        if let read_gb_per_s, let decode_fraction_of_bandwidth {
            lines.append(String(format: "memory read %.1f GB/s with %d thread(s); decode reads the weights at %.0f%% of it",
                                read_gb_per_s, threads, 100 * decode_fraction_of_bandwidth))
        }
        return lines.joined(separator: "\n")
    }
}

struct ExitMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

Bench.main()

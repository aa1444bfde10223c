import Foundation
import ModelFiles
import Testing
@testable import GPT

/// The bundled model converted to q8_0 and q4_0 (GGUF's block formats, as
/// gpt-convert writes them) stays close to f32: greedy continuations of 20
/// prompts agree on at least 95% of tokens for q8_0, and bits per character
/// on an excerpt of the validation split (Julius Caesar, never trained on)
/// is within 1% of f32 for q8_0 and 5% for q4_0.
@Suite struct QuantizationAccuracyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let excerpt = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/julius_caesar_excerpt.txt")

    /// f32 (the bundled file itself), then q8_0 and q4_0 GGUF conversions of it.
    static func models() throws -> (tokenizer: Tokenizer, models: [TensorType: Model]) {
        let bundled = root.appendingPathComponent("models/shakespeare")
        let source = try LoadedModel(path: bundled.appendingPathComponent("gpt_checkpoint.bin").path)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-quant-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var models: [TensorType: Model] = [.f32: Model(weights: source.weights)]
        for type in [TensorType.q8_0, .q4_0] {
            let path = folder.appendingPathComponent("\(type).gguf").path
            try ModelConversion.write(source, vocabulary: nil, to: path, format: .gguf, type: type)
            models[type] = Model(weights: try LoadedModel(path: path).weights)  // the mapping outlives the file's name
        }
        return (try Tokenizer(contentsOf: bundled.appendingPathComponent("tokenizer.json")), models)
    }

    /// Greedy continuations of `prompts`, decoded in batches.
    static func greedy(_ model: Model, prompts: [[Int]], count: Int) -> [[Int]] {
        var results: [[Int]] = []
        let batchSize = 16
        for start in stride(from: 0, to: prompts.count, by: batchSize) {
            let batch = Array(prompts[start..<min(start + batchSize, prompts.count)])
            let states = batch.map { model.makeState(capacity: $0.count + count) }
            var next = zip(batch, states).map { prompt, state in argmax(model.forward(prompt, state: state)) }
            var outputs = next.map { [$0] }
            for _ in 1..<count {
                next = model.forward(batch: next, states: states).map(argmax)
                for b in outputs.indices { outputs[b].append(next[b]) }
            }
            results += outputs
        }
        return results
    }

    static func argmax(_ logits: [Float]) -> Int { logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }! }

    /// Nats of predicting every token of `tokens` from the ones before it, in
    /// windows of 64 tokens (not the whole context: attention at 256 positions
    /// is slow in a debug build, and every type sees the same windows).
    static func nats(_ model: Model, tokens: [Int]) -> Double {
        let (T, V) = (64, model.config.vocabularySize)
        var total = 0.0
        for start in stride(from: 0, to: tokens.count - 1, by: T) {
            let window = Array(tokens[start..<min(start + T + 1, tokens.count)])
            let logits = model.forward(Array(window.dropLast()), state: model.makeState(capacity: window.count - 1), allPositions: true)
            for t in 0..<window.count - 1 {
                let row = logits[t * V..<(t + 1) * V]
                let top = Double(row.max()!)
                let sum = row.reduce(0.0) { $0 + exp(Double($1) - top) }
                total += top + log(sum) - Double(row[row.startIndex + window[t + 1]])
            }
        }
        return total
    }

    @Test func quantizedModelsStayCloseToF32() throws {
        let (tokenizer, models) = try Self.models()
        let text = try String(contentsOf: Self.excerpt, encoding: .utf8)
        let tokens = tokenizer.encode(text)

        // 20 prompts of 16 tokens from across the excerpt, 20 greedy tokens each.
        let prompts = (0..<20).map { i in Array(tokens[(i * (tokens.count - 16) / 20)...].prefix(16)) }
        let reference = Self.greedy(models[.f32]!, prompts: prompts, count: 20).joined()
        var agreement: [TensorType: Double] = [:]
        for type in [TensorType.q8_0, .q4_0] {
            let continuation = Self.greedy(models[type]!, prompts: prompts, count: 20).joined()
            agreement[type] = Double(zip(reference, continuation).filter { $0 == $1 }.count) / Double(reference.count)
        }
        // The first 2048 tokens and the characters they cover.
        let measured = Array(tokens.prefix(2048))
        let characters = tokenizer.decode(measured).count
        let bitsPerCharacter = models.mapValues { Self.nats($0, tokens: measured) / log(2) / Double(characters) }
        let f32 = bitsPerCharacter[.f32]!
        print("quantization accuracy: greedy agreement q8_0 \(agreement[.q8_0]!), q4_0 \(agreement[.q4_0]!); "
              + "bits per character f32 \(f32), q8_0 \(bitsPerCharacter[.q8_0]!), q4_0 \(bitsPerCharacter[.q4_0]!)")
        #expect(agreement[.q8_0]! >= 0.95)
        #expect(abs(bitsPerCharacter[.q8_0]! / f32 - 1) <= 0.01)
        #expect(abs(bitsPerCharacter[.q4_0]! / f32 - 1) <= 0.05)
        // A sanity bound that fails if the measure is broken: the model's trained level on Shakespeare.
        #expect(f32 > 1.5 && f32 < 3.5)
    }
}

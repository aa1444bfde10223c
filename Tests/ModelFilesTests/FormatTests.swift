import Foundation
import ModelFiles
import Testing
@testable import GPT

/// Models written by the `gguf` and `safetensors` packages load and generate
/// exactly the float64 reference's greedy tokens (the reference reads the same
/// files with those packages' readers, so rounded weights are the same on both sides).
@Suite(.enabled(if: Python.isAvailable, "python3 with gguf, safetensors, numpy and tokenizers is needed (scripts/setup.sh --test)"))
struct FormatTests {
    static let fixtures: [(file: String, format: String, type: String)] = [
        ("hf_f32", "Hugging Face safetensors", "f32"), ("hf_f16", "Hugging Face safetensors", "f16"),
        ("gguf_f32.gguf", "GGUF v3", "f32"), ("gguf_f16.gguf", "GGUF v3", "f16"), ("gguf_bf16.gguf", "GGUF v3", "bf16"),
        ("gguf_q8_0.gguf", "GGUF v3", "q8_0"), ("gguf_q4_0.gguf", "GGUF v3", "q4_0"),
    ]

    /// Greedy ids with the engine's generation loop (KV cache), as the CLI and server run it.
    static func greedy(_ model: Model, prompt: [Int], count: Int) throws -> [Int] {
        var settings = GenerationSettings()
        settings.numTokens = count
        settings.maxSeqLen = model.config.maxT
        settings.topK = 1
        let generator = try TokenGenerator(model: model, tokenizer: nil, promptTokens: prompt, settings: settings)
        return generator.map(\.id)
    }

    @Test(arguments: fixtures)
    func greedyTokensMatchTheReference(_ fixture: (file: String, format: String, type: String)) throws {
        let expected = try #require(try FormatFixtures.expectations()[fixture.file.replacingOccurrences(of: ".gguf", with: "")])
        let loaded = try LoadedModel(path: try FormatFixtures.path(fixture.file))
        #expect(loaded.formatDescription == fixture.format)
        #expect(loaded.weightType == fixture.type)
        let model = Model(weights: loaded.weights)
        #expect(try Self.greedy(model, prompt: expected.prompt, count: expected.greedy.count) == expected.greedy)
        // Logits of the prompt's last position: float32 arithmetic against
        // float64 on the same weights. Decode steps round the activations of
        // q4_0 products to 8 bits (about 1/254 of a block's largest value),
        // which the reference does not.
        let logits = model.forward(expected.prompt, state: model.makeState())
        let scale = expected.logits_last.map(abs).max()!
        let error = zip(logits, expected.logits_last).map { abs(Double($0) - $1) }.max()! / scale
        #expect(error < (fixture.type == "q4_0" ? 1e-2 : 1e-4), "relative logit error \(error)")
    }

    /// Float tensors in place (no copy): the file's layout is the engine's.
    /// q8_0 and q4_0 matrices are copied once, into groups of 8 rows.
    @Test func ggufIsUsedInPlace() throws {
        for file in ["gguf_f32.gguf", "gguf_f16.gguf"] {
            #expect(try LoadedModel(path: try FormatFixtures.path(file)).convertedBytes == 0, "\(file)")
        }
        for file in ["gguf_q8_0.gguf", "gguf_q4_0.gguf"] {
            let loaded = try LoadedModel(path: try FormatFixtures.path(file))
            #expect(loaded.convertedBytes > 0, "\(file)")
            #expect([.wte, .wpe, .qkvw, .attprojw, .fcw, .fcprojw].allSatisfy { loaded.weights.stored($0).interleaved }, "\(file)")
        }
        // Hugging Face keeps Conv1D weights transposed, so those are always converted.
        #expect(try LoadedModel(path: try FormatFixtures.path("hf_f32")).convertedBytes > 0)
    }

    /// A GGUF file's own tokenizer encodes like the `tokenizers` library on the same vocabulary.
    @Test func ggufTokenizerEncodesLikeTheLibrary() throws {
        let path = try FormatFixtures.path("gguf_q8_0.gguf")
        let textModel = try TextModel(checkpointPath: path)
        #expect(textModel.tokenizerPath == "\(path) (GGUF metadata)")
        for testCase in try FormatFixtures.tokenizerCases() {
            #expect(textModel.tokenizer.encode(testCase.text) == testCase.ids, "\(testCase.text.debugDescription)")
            #expect(textModel.tokenizer.decode(testCase.ids) == testCase.text)
        }
    }

    /// A Hugging Face folder's tokenizer.json is found without --tokenizer, and a safetensors file alone works too.
    @Test func huggingFaceFolderAndFile() throws {
        let folder = try FormatFixtures.path("hf_f32")
        let textModel = try TextModel(checkpointPath: folder)
        #expect(textModel.tokenizerPath == folder + "/tokenizer.json")
        #expect(textModel.format == "Hugging Face safetensors")
        let file = try LoadedModel(path: folder + "/model.safetensors")
        #expect(file.file.shape == textModel.model.weights.config.gpt2Shape)
    }

    /// gpt-convert's writer: its GGUF files load in the `gguf` package with the
    /// bytes the package's own quantizer makes, and llm.c v5 (bf16) loads here
    /// and generates the reference's tokens for bf16 weights.
    @Test(arguments: [TensorType.f16, .bf16, .q8_0, .q4_0])
    func convertedGGUFMatchesTheGGUFPackage(_ type: TensorType) throws {
        let source = try LoadedModel(path: try FormatFixtures.path("gguf_f32.gguf"))
        let out = try FormatFixtures.folder.get().appendingPathComponent("converted_\(type).gguf").path
        try ModelConversion.write(source, vocabulary: source.file.vocabulary, to: out, format: .gguf, type: type)
        let report = try Python.script("check_gguf.py", [out, try FormatFixtures.path("gguf_f32.gguf")])
        #expect(report.contains("\"mismatched_tensors\": 0"), "\(report)")
        #expect(report.contains("\"tensors\": 28"), "\(report)")
        // The converted file reloads with the same tokenizer and shape.
        let reloaded = try TextModel(checkpointPath: out)
        #expect(reloaded.weightType == type.rawValue)
        #expect(reloaded.tokenizer.encode("To be, or not") == (try TextModel(checkpointPath: try FormatFixtures.path("gguf_f32.gguf"))).tokenizer.encode("To be, or not"))
    }

    @Test func llmcVersion5RoundTrip() throws {
        let expected = try #require(try FormatFixtures.expectations()["gguf_bf16"])
        let source = try LoadedModel(path: try FormatFixtures.path("gguf_f32.gguf"))
        let out = try FormatFixtures.folder.get().appendingPathComponent("converted_bf16.bin").path
        try ModelConversion.write(source, vocabulary: nil, to: out, format: .llmc, type: .bf16)
        let loaded = try LoadedModel(path: out)
        #expect(loaded.formatDescription == "llm.c v5")
        #expect(loaded.weightType == "bf16")
        #expect(try Self.greedy(Model(weights: loaded.weights), prompt: expected.prompt, count: expected.greedy.count) == expected.greedy)
        #expect(throws: ModelFileError.self) {
            try ModelConversion.write(source, vocabulary: nil, to: out + ".q8", format: .llmc, type: .q8_0)
        }
    }
}

extension GPTConfig {
    var gpt2Shape: GPT2Shape { GPT2Shape(maxT: maxT, vocabularySize: vocabularySize, layers: layers, heads: heads, channels: channels) }
}

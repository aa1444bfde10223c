import Foundation
import ModelFiles
import Testing
@testable import GPT

/// Models whose output matrix is their own (GGUF `output.weight`, Hugging
/// Face `lm_head.weight`) rather than GPT-2's tied token embedding: written by
/// the `gguf` and `safetensors` packages, checked against the float64
/// reference that multiplies by the same matrix.
@Suite(.enabled(if: Python.isAvailable, "python3 with gguf, safetensors, numpy and tokenizers is needed (scripts/setup.sh --test)"))
struct UntiedOutputTests {
    static let fixtures: [(file: String, type: TensorType)] = [
        ("untied_gguf_f32.gguf", .f32), ("untied_gguf_q8_0.gguf", .q8_0), ("untied_hf_f16", .f16),
    ]

    static func expectation(_ file: String) throws -> FormatFixtures.Expectation {
        try #require(try FormatFixtures.expectations()[file.replacingOccurrences(of: ".gguf", with: "")])
    }

    static func relativeError(_ logits: [Float], _ expected: [Double]) -> Double {
        zip(logits, expected).map { abs(Double($0) - $1) }.max()! / expected.map(abs).max()!
    }

    /// Greedy tokens, the decode path's logits and the prefill path's (17 tokens) all follow the output matrix.
    @Test(arguments: fixtures)
    func logitsComeFromTheOutputMatrix(_ fixture: (file: String, type: TensorType)) throws {
        let expected = try Self.expectation(fixture.file)
        let loaded = try LoadedModel(path: try FormatFixtures.path(fixture.file))
        let output = try #require(loaded.weights.output, "the output matrix was taken for a tied one")
        #expect(output.type == fixture.type)
        #expect(loaded.weights.outputKind == "separate")
        let model = Model(weights: loaded.weights)
        #expect(try FormatTests.greedy(model, prompt: expected.prompt, count: expected.greedy.count) == expected.greedy)
        let short = model.forward(expected.prompt, state: model.makeState())
        #expect(Self.relativeError(short, expected.logits_last) < 1e-4)
        let long = model.forward(expected.prompt + expected.greedy, state: model.makeState())
        #expect(Self.relativeError(long, try #require(expected.logits_long)) < 1e-4)
    }

    /// GGUF's output matrix is read like the other matrices (in place for
    /// f32, interleaved for q8_0); its bytes count in the model's size.
    @Test func ggufOutputIsReadLikeTheOtherMatrices() throws {
        #expect(try LoadedModel(path: try FormatFixtures.path("untied_gguf_f32.gguf")).convertedBytes == 0)
        let untied = try LoadedModel(path: try FormatFixtures.path("untied_gguf_q8_0.gguf"))
        #expect(untied.weights.output?.interleaved == true)
        let tied = try LoadedModel(path: try FormatFixtures.path("gguf_q8_0.gguf"))
        #expect(untied.convertedBytes > tied.convertedBytes)
        let config = tied.weights.config
        #expect(untied.weights.storedBytes - tied.weights.storedBytes
                == TensorType.q8_0.byteCount(elements: config.vocabularySize * config.channels)!)
    }

    /// Files without an output matrix, or with lm_head equal to wte, stay tied: no second matrix.
    @Test func tiedFilesStayTied() throws {
        for file in ["gguf_f32.gguf", "hf_f32", "hf_f16"] {
            let loaded = try LoadedModel(path: try FormatFixtures.path(file))
            #expect(loaded.file.output == nil, "\(file)")
            #expect(loaded.weights.outputKind == "tied", "\(file)")
        }
    }

    @Test func outputOfTheWrongShapeIsRefused() throws {
        let folder = try FormatFixtures.path("hf_bad_lm_head")
        #expect { try LoadedModel(path: folder) } throws: { error in
            "\(error)".contains("tensor lm_head.weight has shape [4096, 32]; expected [4096, 64]") && "\(error)".contains(folder)
        }
    }

    /// gpt-convert writes the output matrix into GGUF in the chosen type (the
    /// bytes the `gguf` package's quantizer makes), and the file generates the
    /// reference's tokens for those rounded weights.
    @Test func convertedGGUFKeepsTheOutputMatrix() throws {
        let source = try LoadedModel(path: try FormatFixtures.path("untied_gguf_f32.gguf"))
        let out = try FormatFixtures.folder.get().appendingPathComponent("converted_untied_q8_0.gguf").path
        try ModelConversion.write(source, vocabulary: source.file.vocabulary, to: out, format: .gguf, type: .q8_0)
        let report = try Python.script("check_gguf.py", [out, try FormatFixtures.path("untied_gguf_f32.gguf")])
        #expect(report.contains("\"mismatched_tensors\": 0"), "\(report)")
        #expect(report.contains("\"tensors\": 29"), "\(report)")
        let reloaded = try LoadedModel(path: out)
        #expect(reloaded.weights.output?.type == .q8_0)
        let expected = try Self.expectation("untied_gguf_q8_0")
        #expect(try FormatTests.greedy(Model(weights: reloaded.weights), prompt: expected.prompt, count: expected.greedy.count) == expected.greedy)

        // Hugging Face's lm_head becomes output.weight; f16 to f16 is exact.
        let huggingFace = try LoadedModel(path: try FormatFixtures.path("untied_hf_f16"))
        let fromHF = try FormatFixtures.folder.get().appendingPathComponent("converted_untied_hf.gguf").path
        try ModelConversion.write(huggingFace, vocabulary: nil, to: fromHF, format: .gguf, type: .f16)
        let model = Model(weights: try LoadedModel(path: fromHF).weights)
        let hfExpected = try Self.expectation("untied_hf_f16")
        #expect(Self.relativeError(model.forward(hfExpected.prompt, state: model.makeState()), hfExpected.logits_last) < 1e-4)
    }

    /// llm.c checkpoints tie the output to wte: writing an untied model there is refused, naming the tensor.
    @Test func llmcRefusesAnUntiedModel() throws {
        let folder = try FormatFixtures.folder.get()
        for (file, tensor) in [("untied_gguf_f32.gguf", "output.weight"), ("untied_hf_f16", "lm_head.weight")] {
            let model = try LoadedModel(path: try FormatFixtures.path(file))
            let out = folder.appendingPathComponent("untied.bin").path
            #expect { try ModelConversion.write(model, vocabulary: nil, to: out, format: .llmc, type: .f32) } throws: { error in
                "\(error)".contains("tensor \(tensor)") && "\(error)".contains("--format gguf")
            }
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}

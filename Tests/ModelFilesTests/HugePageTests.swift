import Foundation
import ModelFiles
import Testing
@testable import GPT

/// Weights copied into transparent huge pages (`LoadedModel(path:hugePages:)`,
/// the server's `huge_pages`) compute exactly what the mapped file computes,
/// for every format and weight type, and no longer point into the file.
@Suite(.enabled(if: Python.isAvailable, "python3 with gguf, safetensors, numpy and tokenizers is needed (scripts/setup.sh --test)"))
struct HugePageTests {
    /// Whether this kernel offers transparent huge pages, read here from sysfs.
    static let kernelOffersHugePages: Bool = {
        guard let mode = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8) else {
            return false
        }
        return !mode.contains("[never]")
    }()

    /// In place (f32, f16, bf16), interleaved (q8_0, q4_0, an untied output),
    /// transposed (Hugging Face) and spread over several files (shards).
    @Test(arguments: ["gguf_f32.gguf", "gguf_f16.gguf", "gguf_bf16.gguf", "gguf_q8_0.gguf", "gguf_q4_0.gguf",
                      "untied_gguf_q8_0.gguf", "hf_f16", "hf_sharded"])
    func hugePagesGiveTheMappedFilesBits(_ fixture: String) throws {
        let path = try FormatFixtures.path(fixture)
        let mapped = try LoadedModel(path: path)
        let copied = try LoadedModel(path: path, hugePages: true)
        #expect(!mapped.inHugePages)
        #expect(copied.inHugePages == Self.kernelOffersHugePages)
        if copied.inHugePages {
            let files = copied.file.files.map(\.bytes)
            let weights = copied.weights
            let tensors = ParameterTensor.allCases.flatMap { tensor in
                (0..<(tensor.isPerLayer ? weights.config.layers : 1)).map { weights.stored(tensor, layer: $0).data }
            } + [weights.output?.data].compactMap { $0 }
            for data in tensors {
                #expect(!files.contains { $0.baseAddress! <= data && data < $0.baseAddress! + $0.count }, "a tensor still points into the file")
            }
        }
        // A prompt through the gemm, then decode steps through the row kernels.
        let prompt = [5, 17, 2, 99, 300, 41, 7, 7, 1_000, 12, 3, 64, 128, 256, 511, 9, 4]
        func run(_ loaded: LoadedModel) -> [[Float]] {
            let model = Model(weights: loaded.weights)
            let state = model.makeState()
            var logits = [model.forward(prompt, state: state, allPositions: true)]
            for token in [1, 2, 3] { logits.append(model.forward([token], state: state)) }
            return logits
        }
        let same = run(copied) == run(mapped)  // compared apart: a failure would print every logit
        #expect(same, "\(fixture): the logits differ")
    }
}

import Foundation
import ModelFiles
import Testing
@testable import GPT

/// Hugging Face folders saved in several safetensors files with
/// model.safetensors.index.json, written by the `safetensors` package as
/// transformers' save_pretrained lays them out; the float64 reference reads
/// the same shards with that package's reader.
@Suite(.enabled(if: Python.isAvailable, "python3 with gguf, safetensors, numpy and tokenizers is needed (scripts/setup.sh --test)"))
struct ShardedFolderTests {
    /// The sharded folder holds hf_f32's tensors: the same logits to the bit,
    /// the reference's greedy tokens, and each shard mapped.
    @Test func shardedFolderIsTheUnshardedModel() throws {
        let expected = try #require(try FormatFixtures.expectations()["hf_sharded"])
        let folder = try FormatFixtures.path("hf_sharded")
        let sharded = try LoadedModel(path: folder)
        #expect(sharded.formatDescription == "Hugging Face safetensors")
        #expect(sharded.weightType == "f32")
        #expect(sharded.file.files.map { $0.path.split(separator: "/").last! } == (1...3).map { "model-0000\($0)-of-00003.safetensors" })
        #expect(sharded.file.output == nil, "lm_head.weight equals wte.weight, in another shard: tied")
        let model = Model(weights: sharded.weights)
        #expect(try FormatTests.greedy(model, prompt: expected.prompt, count: expected.greedy.count) == expected.greedy)
        let logits = model.forward(expected.prompt, state: model.makeState())
        let error = zip(logits, expected.logits_last).map { abs(Double($0) - $1) }.max()! / expected.logits_last.map(abs).max()!
        #expect(error < 1e-4, "relative logit error \(error)")
        let single = Model(weights: try LoadedModel(path: try FormatFixtures.path("hf_f32")).weights)
        #expect(logits == single.forward(expected.prompt, state: single.makeState()))
        // The index itself, given as the model file, opens the same folder.
        let byIndex = Model(weights: try LoadedModel(path: folder + "/model.safetensors.index.json").weights)
        #expect(logits == byIndex.forward(expected.prompt, state: byIndex.makeState()))
        #expect(try TextModel(checkpointPath: folder).tokenizerPath == folder + "/tokenizer.json")
    }

    /// Each broken folder is refused, naming the file (index or shard) and the key or tensor.
    @Test(arguments: [
        ("sharded_not_json", "model.safetensors.index.json: not JSON"),
        ("sharded_no_weight_map", "model.safetensors.index.json: weight_map is missing"),
        ("sharded_missing_shard", "in shard model-00002-of-00002.safetensors, which cannot be read"),
        ("sharded_parent_path", "weight_map puts tensor wpe.weight in \"../hf_f32/model.safetensors\"; a shard must be a file name in the index's folder"),
        ("sharded_absolute_path", "weight_map puts tensor wpe.weight in \"/"),
        ("sharded_lacks_tensor", "model-00002-of-00002.safetensors: has no tensor ln_f.bias, which model.safetensors.index.json's weight_map puts in it"),
        ("sharded_two_shards", "model.safetensors.index.json: tensor ln_f.bias is in two shards, model-00001-of-00002.safetensors and model-00002-of-00002.safetensors"),
        ("sharded_misplaced", "model-00002-of-00002.safetensors: tensor ln_f.bias is in this shard, but model.safetensors.index.json's weight_map puts it in model-00001-of-00002.safetensors"),
        ("sharded_unmapped", "model-00002-of-00002.safetensors: tensor h.1.mlp.c_fc.bias is in this shard but not in model.safetensors.index.json's weight_map"),
        ("sharded_not_safetensors", "model-00002-of-00002.safetensors: header length"),
    ])
    func brokenShardingIsRefused(_ folderName: String, _ problem: String) throws {
        let folder = try FormatFixtures.path(folderName)
        #expect { try LoadedModel(path: folder) } throws: { error in
            "\(error)".hasPrefix(folder + "/") && "\(error)".contains(problem)
        }
    }
}

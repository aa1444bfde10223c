import Foundation
@testable import ModelFiles
import Testing
@testable import GPT

/// Hand-made hostile and broken files: each is refused with a message that
/// names the file and what is wrong, quickly and without a crash or a huge
/// allocation (the cases peers' loaders got wrong; see the formats issue).
@Suite final class CraftedFileTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-crafted-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Each test's files go with it.
    deinit { try? FileManager.default.removeItem(at: folder) }

    /// Writes `bytes` (or a folder's files) and expects opening to fail with every phrase in the message.
    func expectRefusal(_ bytes: [UInt8], name: String = "model.gguf", _ phrases: String..., sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = folder.appendingPathComponent("\(UUID().uuidString)-\(name)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try expectRefusal(path: path, phrases, sourceLocation: sourceLocation)
    }

    func expectRefusal(path: String, _ phrases: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        do {
            _ = try GPT2ModelFile.open(path)
            Issue.record("opened a malformed file", sourceLocation: sourceLocation)
        } catch let error as ModelFileError {
            #expect(error.description.contains(path) || error.description.contains(folder.path), "\(error) does not name the file", sourceLocation: sourceLocation)
            for phrase in phrases {
                #expect(error.description.contains(phrase), "\(error) lacks \(phrase)", sourceLocation: sourceLocation)
            }
        }
    }

    // MARK: GGUF

    /// A tiny valid GPT-2 GGUF (L 1, C 32, V 8, maxT 4), built byte by byte here, with knobs to break it;
    /// `output` adds an output.weight of those GGUF dimensions (innermost first). Every tensor is zeros.
    static func gguf(version: UInt32 = 3, architecture: String = "gpt2", type: UInt32 = 0, output: [UInt64]? = nil,
                     skip: String? = nil, shapeOf: (String, [UInt64])? = nil, offsetOf: (String, UInt64)? = nil,
                     extraMetadata: [UInt8] = [], extraCount: UInt64 = 0, tokens: Int = 0) -> [UInt8] {
        let C = 32, V = 8, maxT = 4
        var tensors: [(String, [UInt64])] = [("token_embd.weight", [UInt64(C), UInt64(V)]), ("position_embd.weight", [UInt64(C), UInt64(maxT)])]
        for (name, dims) in [("attn_norm.weight", [C]), ("attn_norm.bias", [C]), ("attn_qkv.weight", [C, 3 * C]), ("attn_qkv.bias", [3 * C]),
                             ("attn_output.weight", [C, C]), ("attn_output.bias", [C]), ("ffn_norm.weight", [C]), ("ffn_norm.bias", [C]),
                             ("ffn_up.weight", [C, 4 * C]), ("ffn_up.bias", [4 * C]), ("ffn_down.weight", [4 * C, C]), ("ffn_down.bias", [C])] {
            tensors.append(("blk.0.\(name)", dims.map(UInt64.init)))
        }
        tensors += [("output_norm.weight", [UInt64(C)]), ("output_norm.bias", [UInt64(C)])]
        if let output { tensors.append(("output.weight", output)) }
        tensors.removeAll { $0.0 == skip }
        if let (name, dims) = shapeOf { tensors = tensors.map { $0.0 == name ? (name, dims) : $0 } }

        var out = [UInt8]()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        out += Array("GGUF".utf8)
        u32(version)
        u64(UInt64(tensors.count))
        let metadata: [(String, UInt32)] = [("gpt2.context_length", UInt32(maxT)), ("gpt2.embedding_length", UInt32(C)),
                                            ("gpt2.block_count", 1), ("gpt2.attention.head_count", 2)]
        u64(UInt64(metadata.count + 1 + (tokens > 0 ? 2 : 0)) + extraCount)
        string("general.architecture"); u32(8); string(architecture)
        for (key, value) in metadata { string(key); u32(4); u32(value) }
        if tokens > 0 {
            string("tokenizer.ggml.model"); u32(8); string("gpt2")
            string("tokenizer.ggml.tokens"); u32(9); u32(8); u64(UInt64(tokens))
            for i in 0..<tokens { string("t\(i)") }
        }
        out += extraMetadata
        var offset: UInt64 = 0
        var sizes: [Int] = []
        for (name, dims) in tensors {
            string(name)
            u32(UInt32(dims.count))
            dims.forEach(u64)
            u32(type)
            let elements = dims.reduce(1, &*)
            let size = type == 8 ? Int(elements / 32 * 34) : Int(truncatingIfNeeded: elements &* 4)
            u64(offsetOf?.0 == name ? offsetOf!.1 : offset)
            offset += UInt64((size + 31) / 32 * 32)
            sizes.append(size)
        }
        out += [UInt8](repeating: 0, count: (out.count + 31) / 32 * 32 - out.count)
        for size in sizes where size < 1 << 24 { out += [UInt8](repeating: 0, count: (size + 31) / 32 * 32) }
        return out
    }

    @Test func theValidGGUFOpens() throws {
        let path = folder.appendingPathComponent("valid.gguf").path
        try Data(Self.gguf()).write(to: URL(fileURLWithPath: path))
        let model = try GPT2ModelFile.open(path)
        #expect(model.shape == GPT2Shape(maxT: 4, vocabularySize: 8, layers: 1, heads: 2, channels: 32))
    }

    @Test func everyTruncationIsRefused() throws {
        let valid = Self.gguf()
        let path = folder.appendingPathComponent("cut.gguf").path
        for length in Array(0..<600) + stride(from: 600, to: valid.count, by: 97) {
            try Data(valid[..<length]).write(to: URL(fileURLWithPath: path))
            #expect(throws: ModelFileError.self, "prefix of \(length) bytes") { try GPT2ModelFile.open(path) }
        }
    }

    @Test func badMagicAndVersions() throws {
        var wrong = Self.gguf()
        wrong[0] = UInt8(ascii: "X")
        try expectRefusal(wrong, "not a model file")
        try expectRefusal(Self.gguf(version: 1), "GGUF version 1 is not supported")
        try expectRefusal(Self.gguf(version: 4), "GGUF version 4 is not supported")
    }

    /// The 43-byte file on which the `gguf` Python package hangs: an array of 2^63 elements.
    @Test func hugeCountsAndLengths() throws {
        var header = Array("GGUF".utf8) + [3, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0]
        let key = Array("k".utf8)
        let arrayOfHuge = header + [1, 0, 0, 0, 0, 0, 0, 0] + key + [9, 0, 0, 0] + [4, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0x80]
        try expectRefusal(arrayOfHuge, "claims 9223372036854775808 elements")
        let hugeString = header + [0, 0, 0, 0, 0, 0, 0, 0x80] + [UInt8](repeating: 0, count: 16)
        try expectRefusal(hugeString, "string length 9223372036854775808 is beyond the end of the file")
        header.replaceSubrange(8..<24, with: [0, 0, 0, 0, 0, 0, 0, 0x80] + [0, 0, 0, 0, 0, 0, 0, 0])
        try expectRefusal(header + [UInt8](repeating: 0, count: 64), "tensor count 9223372036854775808 cannot fit")
        try expectRefusal(Self.gguf(extraCount: 1 << 62), "metadata count")
    }

    @Test func tensorTableProblems() throws {
        try expectRefusal(Self.gguf(shapeOf: ("blk.0.ffn_up.weight", [1 << 62, 1 << 62])), "blk.0.ffn_up.weight", "overflows")
        try expectRefusal(Self.gguf(shapeOf: ("blk.0.ffn_up.weight", [1 << 40, 1 << 10])), "blk.0.ffn_up.weight", "lies outside the file")
        try expectRefusal(Self.gguf(offsetOf: ("output_norm.bias", 1 << 40)), "output_norm.bias", "lies outside the file")
        try expectRefusal(Self.gguf(offsetOf: ("output_norm.bias", 4)), "output_norm.bias", "not a multiple of the alignment 32")
        try expectRefusal(Self.gguf(type: 14), "is Q6_K (type 14)", "supported types are F32, F16, BF16, Q8_0 and Q4_0")
        try expectRefusal(Self.gguf(type: 99), "unknown type 99")
        try expectRefusal(Self.gguf(skip: "blk.0.attn_qkv.bias"), "tensor blk.0.attn_qkv.bias is missing")
        try expectRefusal(Self.gguf(shapeOf: ("blk.0.attn_qkv.weight", [32, 32])), "blk.0.attn_qkv.weight has shape [32, 32]; expected [96, 32]")
        try expectRefusal(Self.gguf(shapeOf: ("output_norm.weight", [30])), "output_norm.weight")
        try expectRefusal(Self.gguf(output: [32, 7]), "tensor output.weight has shape [7, 32]; expected [8, 32]")
    }

    /// An output.weight equal to token_embd (here both zeros) is GPT-2's tied output saved twice: read once.
    @Test func outputEqualToTheEmbeddingIsTied() throws {
        let path = folder.appendingPathComponent("tied.gguf").path
        try Data(Self.gguf(output: [32, 8])).write(to: URL(fileURLWithPath: path))
        #expect(try GPT2ModelFile.open(path).output == nil)
    }

    @Test func architectureAndVocabulary() throws {
        try expectRefusal(Self.gguf(architecture: "llama"), "general.architecture is \"llama\"; only \"gpt2\"")
        try expectRefusal(Self.gguf(tokens: 9), "tokenizer.ggml.tokens has 9 tokens but token_embd.weight has only 8 rows")
        // Metadata of an unknown value type.
        let unknownType = Array(UInt64(1).littleEndianBytes) + Array("x".utf8) + Array(UInt32(13).littleEndianBytes)
        try expectRefusal(Self.gguf(extraMetadata: unknownType, extraCount: 1), "metadata \"x\" has unknown value type 13")
    }

    // MARK: llm.c

    @Test func llmcProblems() throws {
        var header = [Int32](repeating: 0, count: 256)
        header[0...7] = [20240326, 4, 4, 8, 1, 2, 32, 8]
        try expectRefusal(header.flatMap(\.littleEndianBytes), name: "model.bin", "llm.c checkpoint version 4 is not supported")
        header[1] = 5
        try expectRefusal(header.flatMap(\.littleEndianBytes), name: "model.bin", "truncated: tensor wte")
        header[6] = Int32.max
        try expectRefusal(header.flatMap(\.littleEndianBytes), name: "model.bin", "not divisible")
    }

    // MARK: Hugging Face

    func writeFolder(config: String, safetensors: [UInt8]?) throws -> String {
        let path = folder.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
        try Data(config.utf8).write(to: path.appendingPathComponent("config.json"))
        if let safetensors { try Data(safetensors).write(to: path.appendingPathComponent("model.safetensors")) }
        return path.path
    }

    static func safetensors(_ header: String, dataBytes: Int = 0) -> [UInt8] {
        Array(UInt64(header.utf8.count).littleEndianBytes) + Array(header.utf8) + [UInt8](repeating: 0, count: dataBytes)
    }

    static let config = #"{"model_type": "gpt2", "n_embd": 32, "n_layer": 1, "n_head": 2, "n_positions": 4, "vocab_size": 8}"#

    @Test func huggingFaceProblems() throws {
        let wte = #"{"wte.weight": {"dtype": "F32", "shape": [8, 32], "data_offsets": [0, 1024]}}"#
        try expectRefusal(path: try writeFolder(config: Self.config, safetensors: Self.safetensors(wte, dataBytes: 1024)), ["tensor wpe.weight (or transformer.wpe.weight) is missing"])
        try expectRefusal(path: try writeFolder(config: Self.config.replacingOccurrences(of: "gpt2", with: "llama"), safetensors: Self.safetensors(wte, dataBytes: 1024)),
                          ["config.json", "model_type is \"llama\"; only \"gpt2\""])
        let relu = Self.config.replacingOccurrences(of: "}", with: #", "activation_function": "relu"}"#)
        try expectRefusal(path: try writeFolder(config: relu, safetensors: Self.safetensors(wte, dataBytes: 1024)), ["activation_function is \"relu\""])
        let outside = #"{"wte.weight": {"dtype": "F32", "shape": [8, 32], "data_offsets": [0, 1024]}}"#
        try expectRefusal(path: try writeFolder(config: Self.config, safetensors: Self.safetensors(outside, dataBytes: 10)), ["data_offsets [0, 1024] lie outside the 10 bytes"])
        let wrongSize = #"{"wte.weight": {"dtype": "F16", "shape": [8, 32], "data_offsets": [0, 1024]}}"#
        try expectRefusal(path: try writeFolder(config: Self.config, safetensors: Self.safetensors(wrongSize, dataBytes: 1024)), ["does not take the 1024 bytes"])
        let int64 = #"{"wte.weight": {"dtype": "I64", "shape": [8, 32], "data_offsets": [0, 2048]}}"#
        try expectRefusal(path: try writeFolder(config: Self.config, safetensors: Self.safetensors(int64, dataBytes: 2048)), ["dtype I64; supported dtypes are F32, F16 and BF16"])
        let huge = Array(UInt64(1 << 62).littleEndianBytes) + Array("{}".utf8)
        try expectRefusal(path: try writeFolder(config: Self.config, safetensors: huge), ["header length 4611686018427387904 is larger"])
        let overflow = #"{"wte.weight": {"dtype": "F32", "shape": [4611686018427387904, 4611686018427387904], "data_offsets": [0, 0]}}"#
        try expectRefusal(path: try writeFolder(config: Self.config, safetensors: Self.safetensors(overflow)), ["does not take the 0 bytes"])
    }

    @Test func pickleIsRefusedWithAPointerToSafetensors() throws {
        let path = try writeFolder(config: Self.config, safetensors: nil)
        try Data([0x80, 0x02]).write(to: URL(fileURLWithPath: path + "/pytorch_model.bin"))
        try expectRefusal(path: path, ["pytorch_model.bin", "safetensors"])
        try expectRefusal(path: path + "/pytorch_model.bin", ["pickle", "safetensors"])
    }

    /// A tokenizer with more ids than the model has rows does not belong to it.
    @Test func tokenizerLargerThanTheModel() throws {
        let path = folder.appendingPathComponent("small.gguf").path
        try Data(Self.gguf()).write(to: URL(fileURLWithPath: path))
        let tokenizer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("GPTTests/Fixtures/tokenizer/gpt2ish.json").path
        #expect { try TextModel(checkpointPath: path, tokenizerPath: tokenizer) } throws: { error in
            "\(error)".contains("do not belong together") && "\(error)".contains(path)
        }
    }
}

extension FixedWidthInteger {
    var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
}

/// Inputs the fuzzers (scripts/fuzz.sh) found that once crashed or exhausted
/// memory, named for the parser they hit; each must now be refused cleanly.
@Suite struct FuzzRegressionTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz")

    static var inputs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }

    @Test(arguments: inputs)
    func findingIsRefused(_ name: String) throws {
        let path = Self.folder.appendingPathComponent(name).path
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(throws: (any Error).self) {
            try bytes.withUnsafeBytes { raw in
                switch name.prefix(while: { $0 != "-" }) {
                case "gguf": _ = try GPT2ModelFile.gguf(bytes: raw, path: path, files: [])
                case "safetensors": _ = try SafetensorsFile(bytes: raw, file: path)
                case "config": _ = try HuggingFaceConfig(bytes: bytes, file: path)
                case "llmc": _ = try LlmcFile(bytes: raw, file: path)
                case "tokenizer": _ = try Tokenizer(jsonData: Data(bytes), sourceName: path)
                default: Issue.record("\(name) does not start with a parser's name")
                }
            }
        }
    }
}

extension CraftedFileTests {
    /// The fuzzer's first finding, as a readable case: a block count of 2^30 with a handful of tensors.
    @Test func hugeLayerCount() throws {
        var bytes = Self.gguf()
        let key = Array("gpt2.block_count".utf8)
        let at = try #require((0..<bytes.count - key.count).first { Array(bytes[$0..<$0 + key.count]) == key }) + key.count + 4
        bytes.replaceSubrange(at..<at + 4, with: UInt32(1 << 30).littleEndianBytes)
        try expectRefusal(bytes, "metadata gpt2.block_count says 1073741824 layers, but the file has only 16 tensors")
    }
}

import Foundation
import JSON
import ModelFiles

extension Tokenizer {
    /// The tokenizer a GGUF file carries. It is read as the `tokenizer.json`
    /// that Hugging Face's GPT-2 has (byte-level BPE, no prefix space, control
    /// and user-defined tokens as added tokens), through the same checks, so
    /// it encodes exactly as the `tokenizers` library does on that vocabulary.
    /// - Parameter sourceName: names the file in error messages.
    public convenience init(vocabulary: GGUFVocabulary, sourceName: String) throws {
        let added = vocabulary.tokens.indices.filter { [.control, .userDefined].contains(vocabulary.types[$0]) }
        let byteLevel = JSONValue.object(JSONObject(members: [
            ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)), ("use_regex", .bool(true)),
        ]))
        let model = JSONValue.object(JSONObject(members: [
            ("type", .string("BPE")),
            ("vocab", .object(JSONObject(members: vocabulary.tokens.enumerated().map { ($0.element, .integer($0.offset)) }))),
            ("merges", .array(vocabulary.merges.map { .string($0) })),
        ]))
        let root = JSONValue.object(JSONObject(members: [
            ("added_tokens", .array(added.map { id in
                .object(JSONObject(members: [
                    ("id", .integer(id)), ("content", .string(vocabulary.tokens[id])), ("single_word", .bool(false)),
                    ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(false)), ("special", .bool(true)),
                ]))
            })),
            ("pre_tokenizer", byteLevel), ("decoder", byteLevel), ("model", model),
        ]))
        self.init(try TokenizerFileReader(source: "\(sourceName) (tokenizer.ggml metadata)").read(root))
    }
}

extension GGUFVocabulary {
    /// A tokenizer.json's vocabulary as GGUF metadata holds it: tokens in id
    /// order (ids must run 0..<n without gaps), added tokens as control tokens,
    /// merges as "left right", and `<|endoftext|>` (if present) as bos and eos.
    public init(tokenizerFile path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TokenizerError(source: path, "cannot read the file (\(error.localizedDescription))")
        }
        let definition = try TokenizerFileReader(source: path).read([UInt8](data))
        var tokens = [String?](repeating: nil, count: definition.vocab.count)
        for (token, id) in definition.vocab {
            guard Int(id) < tokens.count else {
                throw TokenizerError(source: path, "token ids have gaps (id \(id) with \(tokens.count) tokens); GGUF needs ids 0..<\(tokens.count)")
            }
            tokens[Int(id)] = token
        }
        var types = [TokenType](repeating: .normal, count: tokens.count)
        for added in definition.addedTokens {
            guard added.id < tokens.count, tokens[added.id] == added.content else {
                throw TokenizerError(source: path, "added token \(added.content.debugDescription) (id \(added.id)) is not in model.vocab; GGUF needs it there")
            }
            types[added.id] = .control
        }
        let names = tokens.map { $0! }
        let endOfText = names.firstIndex(of: "<|endoftext|>")
        self.init(tokens: names, types: types, merges: definition.merges.map { "\(names[Int($0.left)]) \(names[Int($0.right)])" },
                  bosID: endOfText, eosID: endOfText)
    }
}

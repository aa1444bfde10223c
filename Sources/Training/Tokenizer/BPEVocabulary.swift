import Foundation
import JSON
import GPT

/// A trained byte-level BPE: the tokens, the merges in the order they were
/// learned (their rank) and the special tokens, which take the last ids.
public struct BPEVocabulary: Sendable {
    /// Bytes of each ordinary token; id = index.
    public let tokens: [[UInt8]]
    /// Pairs of token ids, rank order.
    public let merges: [(left: Int32, right: Int32)]
    /// Added tokens; special token k has id `tokens.count + k`.
    public let specialTokens: [String]

    /// Token ids in all: ordinary plus special.
    public var vocabularySize: Int { tokens.count + specialTokens.count }

    /// The Hugging Face `tokenizer.json` for this vocabulary: a BPE model with
    /// GPT-2's ByteLevel pre-tokenizer and decoder, no normalizer, and the
    /// special tokens as added tokens (also listed in the vocab, as GPT-2's
    /// `<|endoftext|>` is, so the library keeps their ids).
    public func tokenizerJSON() -> String {
        let tokenStrings = tokens.map(Self.byteLevelString)
        var json = "{\n"
        json += "  \"version\": \"1.0\",\n"
        json += "  \"truncation\": null,\n"
        json += "  \"padding\": null,\n"
        json += "  \"added_tokens\": ["
        json += specialTokens.enumerated().map { k, content in
            "\n    {\"id\": \(tokens.count + k), \"content\": \(content.jsonQuoted), \"single_word\": false, "
                + "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}"
        }.joined(separator: ",")
        json += specialTokens.isEmpty ? "],\n" : "\n  ],\n"
        json += "  \"normalizer\": null,\n"
        json += "  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},\n"
        json += "  \"post_processor\": null,\n"
        json += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n"
        json += "  \"model\": {\n"
        json += "    \"type\": \"BPE\",\n"
        json += "    \"dropout\": null,\n"
        json += "    \"unk_token\": null,\n"
        json += "    \"continuing_subword_prefix\": null,\n"
        json += "    \"end_of_word_suffix\": null,\n"
        json += "    \"fuse_unk\": false,\n"
        json += "    \"byte_fallback\": false,\n"
        json += "    \"ignore_merges\": false,\n"
        json += "    \"vocab\": {"
        let vocab = tokenStrings.enumerated().map { "\n      \($1.jsonQuoted): \($0)" }
            + specialTokens.enumerated().map { "\n      \($1.jsonQuoted): \(tokens.count + $0)" }
        json += vocab.joined(separator: ",")
        json += "\n    },\n"
        json += "    \"merges\": ["
        json += merges.map { "\n      [\(tokenStrings[Int($0.left)].jsonQuoted), \(tokenStrings[Int($0.right)].jsonQuoted)]" }
            .joined(separator: ",")
        json += merges.isEmpty ? "]\n" : "\n    ]\n"
        json += "  }\n"
        json += "}\n"
        return json
    }

    /// Writes `tokenizer.json` atomically.
    public func write(to url: URL) throws {
        try Data(tokenizerJSON().utf8).write(to: url, options: .atomic)
    }

    /// A token's bytes in GPT-2's byte-level alphabet, as vocab and merges store them.
    static func byteLevelString(_ bytes: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(ByteLevel.scalarForByte[Int(byte)]) }
        return String(scalars)
    }
}

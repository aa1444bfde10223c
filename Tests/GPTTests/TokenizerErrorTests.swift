import Foundation
import Testing
import GPT

/// Builds small tokenizer.json documents: a byte-level vocab with ids equal to
/// byte values, "hi" (256) and "Ġhi" (257), and the merges that make them.
/// The ids these tests expect from such documents were checked against the
/// Python library when the tests were written.
struct TokenizerDocument {
    var model = TokenizerDocument.model()
    var preTokenizer = TokenizerDocument.byteLevel
    var decoder = TokenizerDocument.byteLevel
    var postProcessor = "null"
    var normalizer = "null"
    var addedTokens = "[]"
    var truncation = "null"
    var padding = "null"

    static let byteLevel = #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#
    static let merges = #"[["h", "i"], ["Ġ", "hi"]]"#

    /// GPT-2's bytes_to_unicode, written out again here rather than taken
    /// from the code under test.
    static let byteCharacters: [String] = {
        var printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var characters = printable
        var next = 256
        for byte in 0...255 where !printable.contains(byte) {
            printable.append(byte)
            characters.append(next)
            next += 1
        }
        var result = [String](repeating: "", count: 256)
        for (byte, character) in zip(printable, characters) {
            result[byte] = String(Unicode.Scalar(UInt32(character))!)
        }
        return result
    }()

    static func vocab(extra: String = #", "hi": 256, "Ġhi": 257"#, escaped: Bool = false) -> String {
        let entries = byteCharacters.enumerated().map { id, character in
            "\(jsonString(character, escaped: escaped)): \(id)"
        }
        return "{" + entries.joined(separator: ", ") + extra + "}"
    }

    static func model(_ fields: String = "", vocab: String = TokenizerDocument.vocab(), merges: String = TokenizerDocument.merges) -> String {
        #"{"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, "#
            + #""end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false"#
            + fields + #", "vocab": "# + vocab + #", "merges": "# + merges + "}"
    }

    static func addedToken(_ content: String, id: Int, _ flags: String = "") -> String {
        #"{"id": \#(id), "content": \#(jsonString(content)), "single_word": false, "lstrip": false, "#
            + #""rstrip": false, "normalized": false, "special": true\#(flags)}"#
    }

    static func jsonString(_ text: String, escaped: Bool = false) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || (escaped && scalar.value > 0x7E):
                for unit in String(scalar).utf16 {
                    let hex = String(unit, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    var json: String {
        #"{"version": "1.0", "truncation": \#(truncation), "padding": \#(padding), "added_tokens": \#(addedTokens), "#
            + #""normalizer": \#(normalizer), "pre_tokenizer": \#(preTokenizer), "post_processor": \#(postProcessor), "#
            + #""decoder": \#(decoder), "model": \#(model)}"#
    }

    func load() throws -> Tokenizer {
        try Tokenizer(jsonData: Data(json.utf8), sourceName: "tokenizer.json")
    }
}

@Suite("Tokenizer file checks")
struct TokenizerErrorTests {
    @Test func minimalTokenizerDocumentLoads() throws {
        let tokenizer = try TokenizerDocument().load()
        // "hi hi" splits into "hi" and " hi"; the merges make 256 and 257.
        #expect(tokenizer.encode("hi hi") == [256, 257])
        #expect(tokenizer.encode("hih") == [256, 104])
        #expect(tokenizer.vocabularySize == 258)
        #expect(tokenizer.decode([256, 257, 10]) == "hi hi\n")
    }

    @Test func acceptsEscapedStringsAndMissingOptionalFields() throws {
        var document = TokenizerDocument()
        document.model = #"{"vocab": \#(TokenizerDocument.vocab(escaped: true)), "merges": ["h i", "\u0120 hi"]}"#
        document.addedTokens = "[" + TokenizerDocument.addedToken("🤗", id: 258).replacingOccurrences(of: "\"🤗\"", with: #""\ud83e\udd17""#) + "]"
        let tokenizer = try document.load()
        #expect(tokenizer.encode("hi hi🤗") == [256, 257, 258])
        #expect(tokenizer.id(ofAddedToken: "🤗") == 258)
    }

    @Test func refusesInvalidUTF8() {
        var bytes = Array(TokenizerDocument().json.utf8)
        let quote = bytes.firstIndex(of: UInt8(ascii: "\""))!
        bytes.insert(0xFF, at: quote + 1)
        let error = #expect(throws: TokenizerError.self) {
            try Tokenizer(jsonData: Data(bytes), sourceName: "tokenizer.json")
        }
        #expect(error?.description == "tokenizer.json: malformed JSON at byte \(quote): string is not valid UTF-8")
    }

    /// Found by running the library: a vocab token with a character outside
    /// the byte-level map decodes as its own UTF-8.
    @Test func vocabTokensOutsideTheByteMapDecodeAsText() throws {
        var document = TokenizerDocument()
        document.model = TokenizerDocument.model(vocab: TokenizerDocument.vocab(extra: #", "hi": 256, "Ġhi": 257, "x y": 258, "Ġé": 259"#))
        let tokenizer = try document.load()
        #expect(tokenizer.decode([256, 258, 257]) == "hix y hi")
        #expect(tokenizer.tokenBytes(258) == Array("x y".utf8))
        // "é" stands for the lone byte 0xE9, which is not UTF-8 by itself.
        #expect(tokenizer.tokenBytes(259) == [0x20, 0xE9])
        #expect(tokenizer.decode([259]) == " \u{FFFD}")
    }

    @Test func sequenceWithOneByteLevelIsAccepted() throws {
        var document = TokenizerDocument()
        document.preTokenizer = #"{"type": "Sequence", "pretokenizers": [\#(TokenizerDocument.byteLevel)]}"#
        document.postProcessor = TokenizerDocument.byteLevel
        #expect(try document.load().encode("hi hi") == [256, 257])
    }

    @Test func ignoreMergesUsesWholeTokens() throws {
        var document = TokenizerDocument()
        // "hx" is in the vocab but no merge makes it.
        document.model = TokenizerDocument.model(vocab: TokenizerDocument.vocab(extra: #", "hi": 256, "Ġhi": 257, "hx": 258"#))
            .replacingOccurrences(of: #""ignore_merges": false"#, with: #""ignore_merges": true"#)
        #expect(try document.load().encode("hx hx") == [258, 32, 104, 120])
    }

    struct Refusal: CustomTestStringConvertible, Sendable {
        let name: String
        let json: String
        let message: String
        var testDescription: String { name }

        init(_ name: String, _ message: String, _ change: (inout TokenizerDocument) -> Void) {
            var document = TokenizerDocument()
            change(&document)
            self.name = name
            self.json = document.json
            self.message = message
        }

        init(_ name: String, json: String, _ message: String) {
            self.name = name
            self.json = json
            self.message = message
        }
    }

    static let refusals: [Refusal] = [
        Refusal("malformed JSON", json: #"{"model": {"#, "tokenizer.json: malformed JSON at byte 11: unexpected end of input"),
        Refusal("trailing comma", json: #"{"model": 1,}"#, "tokenizer.json: malformed JSON at byte 12: expected a member name"),
        Refusal("bad escape", json: #"{"a": "\q"}"#, "tokenizer.json: malformed JSON at byte 8: invalid escape"),
        Refusal("lone surrogate", json: #"{"a": "\ud800x"}"#, "lone surrogate"),
        Refusal("not an object", json: "[1, 2]", "tokenizer.json: the top level is an array; expected an object"),
        Refusal("control character in string", json: "{\"a\": \"x\ty\"}", "malformed JSON at byte 8: control character in a string"),
        Refusal("leading zero", json: #"{"a": 01}"#, "malformed JSON at byte 7: expected ',' or '}'"),
        Refusal("too deep", json: String(repeating: "[", count: 300) + String(repeating: "]", count: 300),
                "malformed JSON at byte 256: nested more than 256 levels deep"),
        Refusal("trailing text", json: "{} x", "malformed JSON at byte 3: unexpected text after the JSON value"),
        Refusal("missing model", json: #"{"decoder": \#(TokenizerDocument.byteLevel), "pre_tokenizer": \#(TokenizerDocument.byteLevel)}"#,
                "tokenizer.json: model is missing"),
        Refusal("model not an object", "tokenizer.json: model is an array; expected an object") {
            $0.model = "[]"
        },
        Refusal("WordPiece", #"tokenizer.json: model.type is "WordPiece"; only "BPE" is supported"#) {
            $0.model = $0.model.replacingOccurrences(of: #""type": "BPE""#, with: #""type": "WordPiece""#)
        },
        Refusal("dropout", "tokenizer.json: model.dropout is 0.1; only null is supported (dropout makes encoding random)") {
            $0.model = $0.model.replacingOccurrences(of: #""dropout": null"#, with: #""dropout": 0.1"#)
        },
        Refusal("continuing_subword_prefix", ###"model.continuing_subword_prefix is "##"; only null or "" is supported"###) {
            $0.model = $0.model.replacingOccurrences(of: #""continuing_subword_prefix": null"#, with: ###""continuing_subword_prefix": "##""###)
        },
        Refusal("end_of_word_suffix", #"model.end_of_word_suffix is "</w>"; only null or "" is supported"#) {
            $0.model = $0.model.replacingOccurrences(of: #""end_of_word_suffix": null"#, with: #""end_of_word_suffix": "</w>""#)
        },
        Refusal("byte_fallback", "model.byte_fallback is true; only false is supported") {
            $0.model = $0.model.replacingOccurrences(of: #""byte_fallback": false"#, with: #""byte_fallback": true"#)
        },
        Refusal("unk_token not a string", "model.unk_token is 3; expected a string or null") {
            $0.model = $0.model.replacingOccurrences(of: #""unk_token": null"#, with: #""unk_token": 3"#)
        },
        Refusal("ignore_merges not a boolean", "model.ignore_merges is 1; expected true or false") {
            $0.model = $0.model.replacingOccurrences(of: #""ignore_merges": false"#, with: #""ignore_merges": 1"#)
        },
        Refusal("normalizer", #"tokenizer.json: normalizer is "NFC"; only null is supported"#) {
            $0.normalizer = #"{"type": "NFC"}"#
        },
        Refusal("pre_tokenizer other", #"pre_tokenizer is "Whitespace"; only "ByteLevel", alone or as the one step of a "Sequence", is supported"#) {
            $0.preTokenizer = #"{"type": "Whitespace"}"#
        },
        Refusal("pre_tokenizer null", #"pre_tokenizer is null; only "ByteLevel""#) {
            $0.preTokenizer = "null"
        },
        Refusal("pre_tokenizer sequence without steps", "pre_tokenizer.pretokenizers is missing; expected an array") {
            $0.preTokenizer = #"{"type": "Sequence"}"#
        },
        Refusal("pre_tokenizer sequence of two", #"pre_tokenizer is a "Sequence" of ["Split", "ByteLevel"]; only "ByteLevel""#) {
            $0.preTokenizer = #"{"type": "Sequence", "pretokenizers": [{"type": "Split"}, \#(TokenizerDocument.byteLevel)]}"#
        },
        Refusal("use_regex false", "pre_tokenizer.use_regex is false; only true (GPT-2's split pattern) is supported") {
            $0.preTokenizer = TokenizerDocument.byteLevel.replacingOccurrences(of: #""use_regex": true"#, with: #""use_regex": false"#)
        },
        Refusal("add_prefix_space missing", "tokenizer.json: pre_tokenizer.add_prefix_space is missing") {
            $0.preTokenizer = #"{"type": "ByteLevel", "trim_offsets": true}"#
        },
        Refusal("decoder other", #"decoder is "WordPiece"; only "ByteLevel" is supported"#) {
            $0.decoder = ###"{"type": "WordPiece", "prefix": "##"}"###
        },
        Refusal("decoder null", #"decoder is null; only "ByteLevel" is supported"#) {
            $0.decoder = "null"
        },
        Refusal("post_processor", #"post_processor is "TemplateProcessing"; only null or "ByteLevel" is supported"#) {
            $0.postProcessor = #"{"type": "TemplateProcessing"}"#
        },
        Refusal("truncation", "truncation is an object; only null is supported (truncation changes the ids)") {
            $0.truncation = #"{"max_length": 8}"#
        },
        Refusal("padding", "padding is an object; only null is supported (padding changes the ids)") {
            $0.padding = #"{"pad_id": 0}"#
        },
        Refusal("vocab missing", "model.vocab is missing; expected an object of token: id") {
            $0.model = #"{"type": "BPE", "merges": []}"#
        },
        Refusal("merges missing", "model.merges is missing; expected an array") {
            $0.model = #"{"type": "BPE", "vocab": \#(TokenizerDocument.vocab())}"#
        },
        Refusal("negative id", #"model.vocab["neg"] is -3; expected an id from 0 to 2147483647"#) {
            $0.model = TokenizerDocument.model(vocab: TokenizerDocument.vocab(extra: #", "hi": 256, "Ġhi": 257, "neg": -3"#))
        },
        Refusal("fractional id", #"model.vocab["half"] is 2.5; expected an id"#) {
            $0.model = TokenizerDocument.model(vocab: TokenizerDocument.vocab(extra: #", "hi": 256, "Ġhi": 257, "half": 2.5"#))
        },
        Refusal("string id", #"model.vocab["str"] is "7"; expected an id"#) {
            $0.model = TokenizerDocument.model(vocab: TokenizerDocument.vocab(extra: #", "hi": 256, "Ġhi": 257, "str": "7""#))
        },
        Refusal("duplicated id", #"model.vocab gives id 256 to both "hi" and "ih""#) {
            $0.model = TokenizerDocument.model(vocab: TokenizerDocument.vocab(extra: #", "hi": 256, "Ġhi": 257, "ih": 256"#))
        },
        Refusal("duplicated token", #"model.vocab has "hi" twice"#) {
            $0.model = TokenizerDocument.model(vocab: TokenizerDocument.vocab(extra: #", "hi": 256, "Ġhi": 257, "hi": 258"#))
        },
        Refusal("missing byte", #"model.vocab has no token for byte 32 ("Ġ"); byte-level BPE needs all 256"#) {
            $0.model = TokenizerDocument.model(vocab: TokenizerDocument.vocab().replacingOccurrences(of: #""Ġ": 32, "#, with: ""), merges: #"[["h", "i"]]"#)
        },
        Refusal("merge part not in vocab", #"model.merges[1] uses "zz", which is not in model.vocab"#) {
            $0.model = TokenizerDocument.model(merges: #"[["h", "i"], ["zz", "hi"]]"#)
        },
        Refusal("merge result not in vocab", #"model.merges[1] makes "hih", which is not in model.vocab"#) {
            $0.model = TokenizerDocument.model(merges: #"[["h", "i"], ["hi", "h"]]"#)
        },
        Refusal("merge string with three parts", #"model.merges[1] is "a b c"; expected two tokens separated by one space"#) {
            $0.model = TokenizerDocument.model(merges: #"["h i", "a b c"]"#)
        },
        Refusal("merge string with two spaces", #"model.merges[0] is "h  i"; expected two tokens separated by one space"#) {
            $0.model = TokenizerDocument.model(merges: #"["h  i"]"#)
        },
        Refusal("merges of both forms", "model.merges[1] is an array, but model.merges[0] is \"h i\"; merges must be all") {
            $0.model = TokenizerDocument.model(merges: #"["h i", ["Ġ", "hi"]]"#)
        },
        Refusal("merge pair of three", "model.merges[0] is not a pair of strings") {
            $0.model = TokenizerDocument.model(merges: #"[["h", "i", "x"]]"#)
        },
        Refusal("added_tokens not an array", "added_tokens is null; expected an array") {
            $0.addedTokens = "null"
        },
        Refusal("added token not an object", "added_tokens[0] is a string; expected an object") {
            $0.addedTokens = #"["<s>"]"#
        },
        Refusal("added token content not a string", "added_tokens[0].content is 5; expected a string") {
            $0.addedTokens = "[" + TokenizerDocument.addedToken("<s>", id: 258).replacingOccurrences(of: #""content": "<s>""#, with: #""content": 5"#) + "]"
        },
        Refusal("added token negative id", "added_tokens[0].id is -1; expected an id from 0 to 2147483647") {
            $0.addedTokens = "[" + TokenizerDocument.addedToken("<s>", id: -1) + "]"
        },
        Refusal("single_word", "added_tokens[0].single_word is true; only false is supported") {
            $0.addedTokens = "[" + TokenizerDocument.addedToken("<s>", id: 258).replacingOccurrences(of: #""single_word": false"#, with: #""single_word": true"#) + "]"
        },
        Refusal("added token flag missing", "added_tokens[0].lstrip is missing") {
            $0.addedTokens = #"[{"id": 258, "content": "<s>", "single_word": false, "rstrip": false, "normalized": false, "special": true}]"#
        },
        Refusal("added token empty", "added_tokens[0].content is empty") {
            $0.addedTokens = "[" + TokenizerDocument.addedToken("", id: 258) + "]"
        },
        Refusal("added token twice", #"added_tokens[1].content "<s>" appears twice in added_tokens"#) {
            $0.addedTokens = "[" + TokenizerDocument.addedToken("<s>", id: 258) + ", " + TokenizerDocument.addedToken("<s>", id: 258) + "]"
        },
        Refusal("added token id the library would change", #"added_tokens[0] ("<s>") has id 5000, but the tokenizers library would give it id 258"#) {
            $0.addedTokens = "[" + TokenizerDocument.addedToken("<s>", id: 5000) + "]"
        },
        Refusal("added token in vocab with another id", #"added_tokens[0] ("hi") has id 300, but the tokenizers library would give it id 256"#) {
            $0.addedTokens = "[" + TokenizerDocument.addedToken("hi", id: 300) + "]"
        },
        Refusal("rstrip with a token starting with whitespace", #"added token "<a>" has rstrip and added token " b" starts with whitespace"#) {
            $0.addedTokens = "[" + TokenizerDocument.addedToken("<a>", id: 258, "").replacingOccurrences(of: #""rstrip": false"#, with: #""rstrip": true"#)
                + ", " + TokenizerDocument.addedToken(" b", id: 259) + "]"
        },
    ]

    @Test(arguments: refusals)
    func refuses(_ refusal: Refusal) {
        let error = #expect(throws: TokenizerError.self) {
            try Tokenizer(jsonData: Data(refusal.json.utf8), sourceName: "tokenizer.json")
        }
        #expect(error?.description.hasPrefix("tokenizer.json: ") == true)
        #expect(error?.description.contains(refusal.message) == true, "\(error?.description ?? "no error")")
    }

    /// Only the combination is refused: across the two matching passes an
    /// rstrip token and a token starting with whitespace cannot meet.
    @Test func rstripIsFineWhenNoTokenStartsWithWhitespace() throws {
        var document = TokenizerDocument()
        document.addedTokens = "[" + TokenizerDocument.addedToken("<a>", id: 258).replacingOccurrences(of: #""rstrip": false"#, with: #""rstrip": true"#)
            + ", " + TokenizerDocument.addedToken(" b", id: 259).replacingOccurrences(of: #""normalized": false"#, with: #""normalized": true"#) + "]"
        let tokenizer = try document.load()
        #expect(tokenizer.encode("<a>  hi") == [258, 256])
        #expect(tokenizer.encode("hi b") == [256, 259])
    }
}

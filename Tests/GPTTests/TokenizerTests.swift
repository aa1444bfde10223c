import Foundation
import Testing
@testable import GPT

@Suite("Tokenizer against the Python tokenizers library")
struct TokenizerTests {
    @Test(arguments: TokenizerFixtures.tokenizerFiles)
    func encodesLikeTheLibrary(file: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(file)
        let cases = try TokenizerFixtures.cases(for: file)
        #expect(cases.count > 100)
        for testCase in cases {
            #expect(tokenizer.encode(testCase.text) == testCase.ids, "\(file): \(testCase.text.debugDescription)")
        }
    }

    @Test(arguments: TokenizerFixtures.tokenizerFiles)
    func decodesLikeTheLibrary(file: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(file)
        for testCase in try TokenizerFixtures.cases(for: file) {
            #expect(tokenizer.decode(testCase.ids) == testCase.expectedDecoded, "\(file): \(testCase.text.debugDescription)")
        }
    }

    @Test func roundTripsWithoutPrefixSpace() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("gpt2ish.json")
        for testCase in try TokenizerFixtures.cases(for: "gpt2ish.json") {
            #expect(tokenizer.decode(tokenizer.encode(testCase.text)) == testCase.text)
        }
    }

    /// decode(encode(x)) == x for random text mixing scripts, emoji sequences,
    /// combining marks and every kind of whitespace.
    @Test(arguments: ["gpt2ish.json", "gpt2ish_legacy.json", "gpt2ish_ignore_merges.json"])
    func roundTripsRandomText(file: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(file)
        var generator = SeededGenerator(seed: 20_240_601)
        for _ in 0..<400 {
            let text = RandomText.make(using: &generator)
            let ids = tokenizer.encode(text)
            #expect(tokenizer.decode(ids) == text, "\(text.debugDescription)")
            #expect(ids.allSatisfy { $0 >= 0 && $0 < tokenizer.vocabularySize })
        }
    }

    /// The pre-tokenizer's letter/number/whitespace/other classes against the
    /// classes the library's regex gives every scalar.
    @Test func scalarClassesMatchTheLibrary() throws {
        let data = try Data(contentsOf: TokenizerFixtures.url("scalar_classes.json"))
        let ranges = try JSONDecoder().decode([ClassRange].self, from: data)
        #expect(ranges.count > 1000)
        var mismatches: [String] = []
        var checked = 0
        for range in ranges {
            for value in range.first...range.last {
                let scalar = try #require(Unicode.Scalar(value))
                checked += 1
                if PreTokenizer.classify(scalar) != range.expected, mismatches.count < 20 {
                    mismatches.append("U+\(String(value, radix: 16, uppercase: true))")
                }
            }
        }
        #expect(checked == 0x110000 - 0x800)
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    @Test(arguments: TokenizerFixtures.tokenizerFiles)
    func vocabularySizeCoversEveryID(file: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(file)
        let document = try TokenizerFixtures.document(file)
        let model = try #require(document["model"] as? [String: Any])
        let vocab = try #require(model["vocab"] as? [String: Int])
        let added = try #require(document["added_tokens"] as? [[String: Any]])
        let highest = (Array(vocab.values) + added.compactMap { $0["id"] as? Int }).max()
        #expect(tokenizer.vocabularySize == (highest ?? -1) + 1)
    }

    @Test func findsAddedTokensByContent() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("gpt2ish_added.json")
        let document = try TokenizerFixtures.document("gpt2ish_added.json")
        let added = try #require(document["added_tokens"] as? [[String: Any]])
        #expect(added.count == 12)
        for token in added {
            let content = try #require(token["content"] as? String)
            #expect(tokenizer.id(ofAddedToken: content) == token["id"] as? Int)
        }
        #expect(tokenizer.id(ofAddedToken: "<|endoftext|>") == 0)
        #expect(tokenizer.id(ofAddedToken: "<|nope|>") == nil)
        #expect(tokenizer.id(ofAddedToken: "hello") == nil)
    }

    @Test func tokenBytesAreRawBytes() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("gpt2ish_added.json")
        let vocab = try #require((TokenizerFixtures.document("gpt2ish_added.json")["model"] as? [String: Any])?["vocab"] as? [String: Int])
        #expect(tokenizer.tokenBytes(try #require(vocab["Ġ"])) == [0x20])
        #expect(tokenizer.tokenBytes(try #require(vocab["Ċ"])) == [0x0A])
        #expect(tokenizer.tokenBytes(try #require(vocab["Ġthe"])) == Array(" the".utf8))
        // "ð" stands for byte 0xF0, the first byte of a 4-byte character.
        #expect(tokenizer.tokenBytes(try #require(vocab["ð"])) == [0xF0])
        #expect(tokenizer.tokenBytes(0) == Array("<|endoftext|>".utf8))
        let hug = try #require(tokenizer.id(ofAddedToken: "🤗"))
        #expect(tokenizer.tokenBytes(hug) == [0xF0, 0x9F, 0xA4, 0x97])
        #expect(tokenizer.tokenBytes(tokenizer.vocabularySize).isEmpty)
        #expect(tokenizer.tokenBytes(-1).isEmpty)
    }

    @Test func decodeSkipsUnknownIDsAndKeepsSpecialTokens() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("gpt2ish.json")
        let hello = tokenizer.encode("hello")
        #expect(tokenizer.decode([-5] + hello + [0, 1_000_000] + hello) == "hello<|endoftext|>hello")
    }

    /// Found by running the library: with add_prefix_space, every stretch of
    /// text between added tokens gets its own leading space, unless it already
    /// starts with " " (a tab or newline does not count).
    @Test func prefixSpaceAppliesAfterEveryAddedToken() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("gpt2ish_prefix.json")
        #expect(tokenizer.decode(tokenizer.encode("hello<|endoftext|>world")) == " hello<|endoftext|> world")
        #expect(tokenizer.decode(tokenizer.encode("a <|endoftext|>\n")) == " a <|endoftext|> \n")
        #expect(tokenizer.decode(tokenizer.encode(" x")) == " x")
        #expect(tokenizer.encode("").isEmpty)
    }

    /// Found by running the library: tokens with normalized: false are found
    /// first, so "<|img|>" wins over the normalized "[[<|img" that starts
    /// two characters earlier.
    @Test func unnormalizedAddedTokensAreMatchedFirst() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("gpt2ish_added.json")
        let img = try #require(tokenizer.id(ofAddedToken: "<|img|>"))
        let bracketImg = try #require(tokenizer.id(ofAddedToken: "[[<|img"))
        #expect(tokenizer.encode("[[<|img|>").last == img)
        #expect(tokenizer.encode("[[<|img") == [bracketImg])
    }

    @Test func encodesConcurrently() async throws {
        let tokenizer = try TokenizerFixtures.tokenizer("gpt2ish.json")
        let cases = try TokenizerFixtures.cases(for: "gpt2ish.json")
        let sample = try #require(cases.max { $0.text.utf8.count < $1.text.utf8.count })
        #expect(sample.text.utf8.count > 10_000)
        let results = await withTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 {
                group.addTask { tokenizer.encode(sample.text) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 4)
        #expect(results.allSatisfy { $0 == sample.ids })
    }

    @Test func readsFromURLAndNamesMissingFile() throws {
        let missing = TokenizerFixtures.url("no_such_tokenizer.json")
        let error = #expect(throws: TokenizerError.self) { try Tokenizer(contentsOf: missing) }
        #expect(error?.description.hasPrefix(missing.path + ": cannot read the file") == true)
    }
}

private struct ClassRange: Decodable {
    let first: UInt32
    let last: UInt32
    let expected: PreTokenizer.ScalarClass

    init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        first = try container.decode(UInt32.self)
        last = try container.decode(UInt32.self)
        switch try container.decode(String.self) {
        case "L": expected = .letter
        case "N": expected = .number
        case "S": expected = .whitespace
        case "O": expected = .other
        case let other: throw DecodingError.dataCorruptedError(in: container, debugDescription: "class \(other)")
        }
    }
}

/// Random text built from pieces that stress the pre-tokenizer and byte-level
/// round trip, plus random scalars from the whole Unicode range.
enum RandomText {
    static let pieces = [
        "the", " The", "and", " a", "Hello", "WORLD", "don't", "'s", "'ll", "SHE'S", "x", "ß", "İ", "ǅ",
        " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", " \n", "\u{0B}", "\u{0C}",
        "\u{85}", "\u{A0}", "\u{2003}", "\u{2009}", "\u{3000}", "\u{2028}", "\u{2029}", "\u{200B}", "\u{FEFF}",
        "0", "7", "42", "3.14159", "1,000,000", "٣", "½", "Ⅻ", "²",
        "!", "?", "...", "--", "(", ")", "\"", "'", ",", "#", "@", "«", "»", "“", "”",
        "😀", "👍🏽", "👨‍👩‍👧", "🏳️‍🌈", "🇫🇷", "🇯🇵", "❤️", "\u{200D}", "\u{FE0F}",
        "東京", "中文", "한국어", "ひらがな", "カタカナ",
        "e\u{301}", "\u{301}", "\u{308}", "\u{324}\u{354}", "नमस्ते",
        "مرحبا", "بالعالم", "שלום", "Привет", "Ελλάδα", "ภาษาไทย",
        "\u{10D4A}", "\u{10940}", "\u{11DE0}", "\u{E000}", "\u{FFFF}", "\u{10FFFD}", "\u{0}", "\u{7F}",
        "<|endoftext|>", "<|endoftext", "|>", "<|", "Ġ", "ĉ",
    ]

    static func make(using generator: inout SeededGenerator) -> String {
        var text = ""
        for _ in 0..<Int.random(in: 1...30, using: &generator) {
            if Int.random(in: 0..<8, using: &generator) == 0 {
                text.unicodeScalars.append(randomScalar(using: &generator))
            } else {
                text += pieces.randomElement(using: &generator)!
            }
        }
        return text
    }

    private static func randomScalar(using generator: inout SeededGenerator) -> Unicode.Scalar {
        while true {
            let value = UInt32.random(in: 0...0x10FFFF, using: &generator)
            if let scalar = Unicode.Scalar(value) { return scalar }
        }
    }
}

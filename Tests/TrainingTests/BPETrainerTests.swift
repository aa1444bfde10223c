import Foundation
import GPT
import Testing
@testable import Training

@Suite struct BPETrainerTests {
    static let sample = """
        To be, or not to be, that is the question:
        Whether 'tis nobler in the mind to suffer
        The slings and arrows of outrageous fortune,
        Or to take arms against a sea of troubles
        And by opposing end them. To die—to sleep,
        No more; and by a sleep to say we end
        The heart-ache and the thousand natural shocks
        That flesh is heir to: 'tis a consummation
        Devoutly to be wish'd. I'll say it's 1601, they've 42 reasons; we're   spaced\tout.
        Café déjà vu, naïve façade — 東京 and 😀 emoji, ½ and Ⅻ numbers.
        """

    @Test func firstMergeIsTheMostFrequentPair() {
        var counts = WordCounts()
        counts.add([UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "c")], count: 3)
        counts.add([UInt8(ascii: "b"), UInt8(ascii: "c")], count: 2)
        counts.add([UInt8(ascii: "a"), UInt8(ascii: "b")], count: 1)
        let vocabulary = BPETrainer(vocabularySize: 259, specialTokens: ["<|endoftext|>"]).train(counts)
        // "bc" occurs 5 times, "ab" 4 times; after "bc", "a"+"bc" occurs 3 times.
        #expect(vocabulary.tokens[256] == Array("bc".utf8))
        #expect(vocabulary.tokens[257] == Array("abc".utf8))
        #expect(vocabulary.vocabularySize == 259)
    }

    @Test func tiesBreakTowardsLowerIdsAndRunsRepeat() {
        let a = BPETrainer(vocabularySize: 300).train(texts: [Self.sample])
        let b = BPETrainer(vocabularySize: 300).train(texts: [Self.sample])
        #expect(a.tokenizerJSON() == b.tokenizerJSON())
        var counts = WordCounts()
        counts.add(Array("xy".utf8), count: 2)
        counts.add(Array("ab".utf8), count: 2)
        let tie = BPETrainer(vocabularySize: 258, specialTokens: []).train(counts)
        #expect(tie.tokens[256] == Array("ab".utf8))
    }

    @Test func overlappingPairsMergeLeftToRight() {
        var counts = WordCounts()
        counts.add(Array("aaa".utf8), count: 1)
        let vocabulary = BPETrainer(vocabularySize: 258, specialTokens: []).train(counts)
        #expect(vocabulary.tokens[256] == Array("aa".utf8))
        #expect(vocabulary.tokens[257] == Array("aaa".utf8))  // "aa" + "a", counted once
    }

    @Test func writtenFileLoadsAndRoundTrips() throws {
        let vocabulary = BPETrainer(vocabularySize: 400).train(texts: [Self.sample, Self.sample.uppercased()])
        #expect(vocabulary.vocabularySize == 400)
        let tokenizer = try Tokenizer(jsonData: Data(vocabulary.tokenizerJSON().utf8), sourceName: "trained")
        #expect(tokenizer.vocabularySize == 400)
        #expect(tokenizer.id(ofAddedToken: "<|endoftext|>") == 399)
        let text = Self.sample + "<|endoftext|>" + "Exit, pursued by a bear."
        let ids = tokenizer.encode(text)
        #expect(ids.contains(399))
        #expect(ids.count < text.utf8.count * 2 / 3)  // the merges do compress
        #expect(tokenizer.decode(ids) == text)
    }

    @Test func specialTokensAreNeverCounted() {
        var counts = WordCounts(specialTokens: ["<|endoftext|>"])
        counts.add("one<|endoftext|>two")
        #expect(Set(counts.words) == [Array("one".utf8), Array("two".utf8)])
    }

    @Test func stopsWhenNoPairIsLeft() {
        let vocabulary = BPETrainer(vocabularySize: 1000).train(texts: ["ab ab"])
        // "ab", " ab" (space then "ab"): then nothing to merge.
        #expect(vocabulary.vocabularySize < 1000)
        #expect(vocabulary.specialTokens == ["<|endoftext|>"])
    }

    @Test(.enabled(if: PythonTokenizers.isAvailable, "python3 with the `tokenizers` library is not installed; skipping the cross-check"))
    func pythonLibraryEncodesLikeOurEncoder() throws {
        let corpus = [Self.sample, Self.sample.lowercased(), String(Self.sample.reversed())]
        let vocabulary = BPETrainer(vocabularySize: 420).train(texts: corpus)
        let json = vocabulary.tokenizerJSON()
        let tokenizer = try Tokenizer(jsonData: Data(json.utf8), sourceName: "trained")
        var random = FixedRandom(seed: 9)
        let texts = [
            Self.sample,
            "To be, or not to be:",
            "My kingdom for a horse!<|endoftext|>A horse!",
            "  leading and trailing spaces   ",
            "tabs\tand\nnewlines\n\n\nand   runs  of    spaces \n",
            "they'll we've I'm she'd it's 'tis O'er DON'T",
            "numbers 12345 3.14159 ½ Ⅻ ٣",
            "unicode: naïve café 東京 😀 Ω≈ç√",
            "<|endoftext|><|endoftext|>",
            "Exeunt.<|endoftext|>\n\nACT II",
            String(Self.sample.shuffled(using: &random)),
        ]
        let expected = try PythonTokenizers.encode(texts, tokenizerJSON: json)
        for (text, ids) in zip(texts, expected) {
            #expect(tokenizer.encode(text) == ids, "text: \(text.debugDescription)")
        }
    }
}

/// A seeded generator for shuffles in tests.
struct FixedRandom: RandomNumberGenerator {
    var inner: Xoshiro256StarStar
    init(seed: UInt64) { inner = Xoshiro256StarStar(seed: seed) }
    mutating func next() -> UInt64 { inner.next() }
}

/// Runs the Hugging Face `tokenizers` library through python3.
enum PythonTokenizers {
    static let isAvailable: Bool = (try? run(["-c", "import tokenizers"]).status) == 0

    /// The library's ids for each text, with `tokenizerJSON` as the tokenizer.
    static func encode(_ texts: [String], tokenizerJSON: String) throws -> [[Int]] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tokenizerURL = folder.appendingPathComponent("tokenizer.json")
        let textsURL = folder.appendingPathComponent("texts.json")
        try Data(tokenizerJSON.utf8).write(to: tokenizerURL)
        try JSONEncoder().encode(texts).write(to: textsURL)
        let script = """
            import json, sys
            from tokenizers import Tokenizer
            tokenizer = Tokenizer.from_file(sys.argv[1])
            texts = json.load(open(sys.argv[2], encoding="utf-8"))
            print(json.dumps([tokenizer.encode(t, add_special_tokens=False).ids for t in texts]))
            """
        let result = try run(["-c", script, tokenizerURL.path, textsURL.path])
        guard result.status == 0 else { throw PythonError(message: result.stderr) }
        return try JSONDecoder().decode([[Int]].self, from: Data(result.stdout.utf8))
    }

    struct PythonError: Error { let message: String }

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

import Foundation
@testable import GPT

/// The fixtures that scripts/make_tokenizer_fixtures.py makes with the Python
/// `tokenizers` library: every expected value here comes from that library.
enum TokenizerFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")

    static let tokenizerFiles = [
        "gpt2ish.json", "gpt2ish_prefix.json", "gpt2ish_legacy.json",
        "gpt2ish_added.json", "gpt2ish_added_prefix.json", "gpt2ish_ignore_merges.json",
    ]

    struct Case: Decodable {
        let text: String
        let ids: [Int]
        /// The library's decode of `ids`, stored only where it is not `text`.
        let decoded: String?

        var expectedDecoded: String { decoded ?? text }
    }

    static func url(_ name: String) -> URL {
        directory.appendingPathComponent(name)
    }

    static func tokenizer(_ name: String) throws -> Tokenizer {
        try Tokenizer(contentsOf: url(name))
    }

    static func cases(for name: String) throws -> [Case] {
        let data = try Data(contentsOf: url("cases.json"))
        let all = try JSONDecoder().decode([String: [Case]].self, from: data)
        return all[name] ?? []
    }

    /// A tokenizer file as plain Foundation values, to read expectations from.
    static func document(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: url(name))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}

/// A small fixed-seed generator (SplitMix64), so random tests repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import GPT

/// How often each pre-tokenized piece ("word") occurs in the training text.
///
/// BPE merges never cross a piece boundary, so training only needs each
/// distinct piece once with its count: Shakespeare's 4.6 MB are about a
/// million pieces but only some tens of thousands of distinct ones.
public struct WordCounts: Sendable {
    /// Distinct pieces as raw UTF-8 bytes, in order of first appearance (so
    /// training is deterministic), and how often each occurs.
    public private(set) var words: [[UInt8]] = []
    public private(set) var counts: [Int] = []
    private var indexOfWord: [[UInt8]: Int] = [:]

    /// Strings that are never split or merged (such as `<|endoftext|>`):
    /// text is cut around them and they are not counted.
    public let specialTokens: [String]

    public init(specialTokens: [String] = []) {
        self.specialTokens = specialTokens
    }

    /// Counts the pieces of `text` as GPT-2's split pattern cuts them.
    public mutating func add(_ text: String) {
        for part in Self.split(text, around: specialTokens) {
            var part = part
            part.withUTF8 { bytes in
                PreTokenizer.forEachPiece(in: bytes) { range in
                    add(Array(bytes[range]), count: 1)
                }
            }
        }
    }

    /// Adds `count` occurrences of one piece.
    public mutating func add(_ word: [UInt8], count: Int) {
        if let index = indexOfWord[word] {
            counts[index] += count
        } else {
            indexOfWord[word] = words.count
            words.append(word)
            counts.append(count)
        }
    }

    /// `text` with every occurrence of the special tokens cut out.
    static func split(_ text: String, around specials: [String]) -> [String] {
        var parts = [text]
        for special in specials where !special.isEmpty {
            parts = parts.flatMap { $0.components(separatedBy: special) }
        }
        return parts.filter { !$0.isEmpty }
    }
}

/// Learns a byte-level BPE vocabulary from word counts.
///
/// Starts from the 256 single bytes and repeatedly merges the adjacent pair of
/// tokens that occurs most often (ties: the pair with the lower ids), until
/// the vocabulary, special tokens included, has the requested size or no pair
/// is left. Pair counts are kept up to date incrementally: a merge revisits
/// only the words that contain its pair.
public struct BPETrainer: Sendable {
    /// Tokens in the finished vocabulary, special tokens included.
    public let vocabularySize: Int
    /// Added tokens (such as `<|endoftext|>`), given the last ids.
    public let specialTokens: [String]

    /// - Precondition: room for the 256 byte tokens and the special tokens.
    public init(vocabularySize: Int, specialTokens: [String] = ["<|endoftext|>"]) {
        precondition(vocabularySize >= 256 + specialTokens.count,
                     "a byte-level vocabulary needs at least \(256 + specialTokens.count) tokens")
        self.vocabularySize = vocabularySize
        self.specialTokens = specialTokens
    }

    /// Counts the pieces of `texts` and learns the merges.
    public func train(texts: [String]) -> BPEVocabulary {
        var counts = WordCounts(specialTokens: specialTokens)
        for text in texts { counts.add(text) }
        return train(counts)
    }

    public func train(_ wordCounts: WordCounts) -> BPEVocabulary {
        var state = MergeState(wordCounts)
        let mergedTokens = vocabularySize - specialTokens.count
        while state.tokens.count < mergedTokens, state.mergeMostFrequentPair() {}
        return BPEVocabulary(tokens: state.tokens, merges: state.merges, specialTokens: specialTokens)
    }

    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}

/// The words as token sequences and the live pair counts, while merging.
private struct MergeState {
    /// Bytes of each token; id = index. Ids 0..<256 are the single bytes.
    var tokens: [[UInt8]]
    var idOfToken: [[UInt8]: Int32]
    var merges: [(left: Int32, right: Int32)] = []

    var words: [[Int32]]
    let wordCounts: [Int]
    /// Occurrences of each adjacent pair, weighted by word counts.
    var pairCounts: [UInt64: Int] = [:]
    /// Words that contain (or once contained) each pair; may repeat a word.
    var wordsWithPair: [UInt64: [Int32]] = [:]
    var heap = PairHeap()
    /// The merge that last visited each word, so a word listed twice is merged once.
    var lastVisit: [Int]

    init(_ counts: WordCounts) {
        tokens = (0...255).map { [UInt8($0)] }
        idOfToken = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, Int32($0)) })
        words = counts.words.map { $0.map { Int32($0) } }
        wordCounts = counts.counts
        lastVisit = Array(repeating: -1, count: words.count)
        for (w, word) in words.enumerated() {
            for i in 0..<max(0, word.count - 1) {
                let pair = BPETrainer.pairKey(word[i], word[i + 1])
                pairCounts[pair, default: 0] += wordCounts[w]
                wordsWithPair[pair, default: []].append(Int32(w))
            }
        }
        for (pair, count) in pairCounts { heap.push(.init(count: count, pair: pair)) }
    }

    /// Merges the best pair everywhere; false when no pair is left.
    mutating func mergeMostFrequentPair() -> Bool {
        while let entry = heap.pop() {
            let live = pairCounts[entry.pair] ?? 0
            if live == 0 { continue }
            if live != entry.count {  // stale: requeue with the live count
                heap.push(.init(count: live, pair: entry.pair))
                continue
            }
            merge(entry.pair)
            return true
        }
        return false
    }

    private mutating func merge(_ pair: UInt64) {
        let left = Int32(truncatingIfNeeded: pair >> 32), right = Int32(truncatingIfNeeded: pair)
        let bytes = tokens[Int(left)] + tokens[Int(right)]
        // Two different pairs can spell the same bytes ("a"+"bc", "ab"+"c"): they share one id.
        let merged: Int32
        if let known = idOfToken[bytes] {
            merged = known
        } else {
            merged = Int32(tokens.count)
            tokens.append(bytes)
            idOfToken[bytes] = merged
        }
        let mergeIndex = merges.count
        merges.append((left, right))

        var increased = Set<UInt64>()
        for w in wordsWithPair.removeValue(forKey: pair) ?? [] {
            let w = Int(w)
            guard lastVisit[w] != mergeIndex else { continue }
            lastVisit[w] = mergeIndex
            let old = words[w]
            var new: [Int32] = []
            new.reserveCapacity(old.count)
            var i = 0
            while i < old.count {
                if i + 1 < old.count, old[i] == left, old[i + 1] == right {
                    new.append(merged)
                    i += 2
                } else {
                    new.append(old[i])
                    i += 1
                }
            }
            guard new.count != old.count else { continue }  // listed, but the pair is gone
            // Remove the word's old pairs and add its new ones; only pairs
            // with the merged token are new to this word's listings.
            let count = wordCounts[w]
            for i in 0..<old.count - 1 {
                pairCounts[BPETrainer.pairKey(old[i], old[i + 1]), default: 0] -= count
            }
            for i in 0..<max(0, new.count - 1) {
                let key = BPETrainer.pairKey(new[i], new[i + 1])
                pairCounts[key, default: 0] += count
                if new[i] == merged || new[i + 1] == merged {
                    wordsWithPair[key, default: []].append(Int32(w))
                    increased.insert(key)
                }
            }
            words[w] = new
        }
        pairCounts[pair] = nil
        // Sorted so the heap, and with it every later tie, does not depend on Set order.
        for key in increased.sorted() {
            if let count = pairCounts[key], count > 0 { heap.push(.init(count: count, pair: key)) }
        }
    }
}

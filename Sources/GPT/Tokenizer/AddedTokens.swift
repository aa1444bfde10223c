/// Finds added tokens (such as `<|endoftext|>`) in text before it is
/// pre-tokenized, the way the `tokenizers` library's AddedVocabulary does.
///
/// The library looks in two passes: first for the tokens with
/// `normalized: false`, then, in the text between those, for the tokens with
/// `normalized: true`. Each pass takes the leftmost match, the longest of
/// those starting there, and goes on after it. `lstrip` and `rstrip` widen a
/// match over the whitespace before or after it, within the text being
/// searched.
struct AddedTokens: Sendable {
    struct Token: Sendable {
        let bytes: [UInt8]
        let id: Int
        let lstrip: Bool
        let rstrip: Bool
    }

    /// A stretch of the input: plain text to pre-tokenize, or an added token.
    enum Segment {
        case text(Range<Int>)
        case token(id: Int)
    }

    private let passes: [Pass]

    /// `tokens` in file order; the order does not change which match wins.
    init(unnormalized: [Token], normalized: [Token]) {
        passes = [Pass(tokens: unnormalized), Pass(tokens: normalized)].filter { !$0.tokens.isEmpty }
    }

    /// Splits `text` (valid UTF-8) into plain text and added tokens. Empty
    /// stretches of text are left out, as the library leaves them out.
    func split(_ text: UnsafeBufferPointer<UInt8>) -> [Segment] {
        var segments: [Segment] = text.isEmpty ? [] : [.text(0..<text.count)]
        for pass in passes {
            var refined: [Segment] = []
            for segment in segments {
                if case .text(let range) = segment {
                    pass.split(text, range, into: &refined)
                } else {
                    refined.append(segment)
                }
            }
            segments = refined
        }
        return segments
    }

    private struct Pass {
        let tokens: [Token]
        /// Indices into `tokens` by first byte, longest token first, so the
        /// first that matches is the longest match at that position.
        let candidatesByFirstByte: [[Int]]

        init(tokens: [Token]) {
            self.tokens = tokens
            var candidates = [[Int]](repeating: [], count: 256)
            for (index, token) in tokens.enumerated() {
                candidates[Int(token.bytes[0])].append(index)
            }
            candidatesByFirstByte = candidates.map { indices in
                indices.sorted { tokens[$0].bytes.count > tokens[$1].bytes.count }
            }
        }

        /// Follows the library's `find_matches`, including where the stripped
        /// whitespace goes.
        func split(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into segments: inout [Segment]) {
            var textStart = range.lowerBound
            var index = range.lowerBound
            while index < range.upperBound {
                guard let token = longestMatch(in: text, at: index, end: range.upperBound) else {
                    index += 1
                    continue
                }
                var start = index
                var stop = index + token.bytes.count
                index = stop
                if token.lstrip {
                    start = max(whitespaceStart(in: text, before: start, limit: range.lowerBound), textStart)
                }
                if token.rstrip {
                    stop = whitespaceEnd(in: text, after: stop, limit: range.upperBound)
                }
                if textStart < start { segments.append(.text(textStart..<start)) }
                segments.append(.token(id: token.id))
                textStart = stop
            }
            if textStart < range.upperBound { segments.append(.text(textStart..<range.upperBound)) }
        }

        private func longestMatch(in text: UnsafeBufferPointer<UInt8>, at index: Int, end: Int) -> Token? {
            for candidate in candidatesByFirstByte[Int(text[index])] {
                let token = tokens[candidate]
                let count = token.bytes.count
                guard index + count <= end else { continue }
                var matches = true
                for offset in 1..<count where text[index + offset] != token.bytes[offset] {
                    matches = false
                    break
                }
                if matches { return token }
            }
            return nil
        }

        private func whitespaceStart(in text: UnsafeBufferPointer<UInt8>, before index: Int, limit: Int) -> Int {
            var start = index
            while start > limit {
                let previous = UTF8Scalars.start(before: start, in: text)
                guard UTF8Scalars.isWhitespace(UTF8Scalars.decode(text, at: previous).0) else { break }
                start = previous
            }
            return start
        }

        private func whitespaceEnd(in text: UnsafeBufferPointer<UInt8>, after index: Int, limit: Int) -> Int {
            var end = index
            while end < limit {
                let (scalar, length) = UTF8Scalars.decode(text, at: end)
                guard UTF8Scalars.isWhitespace(scalar) else { break }
                end += length
            }
            return end
        }
    }
}

extension AddedTokens {
    /// The matcher for a checked definition's added tokens.
    init(_ tokens: [TokenizerDefinition.AddedToken]) {
        func matcherTokens(normalized: Bool) -> [Token] {
            tokens.filter { $0.normalized == normalized }.map {
                Token(bytes: Array($0.content.utf8), id: $0.id, lstrip: $0.lstrip, rstrip: $0.rstrip)
            }
        }
        self.init(unnormalized: matcherTokens(normalized: false), normalized: matcherTokens(normalized: true))
    }
}

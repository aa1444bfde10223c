/// Splits UTF-8 text into the pieces that GPT-2's pattern
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// finds, the way the `tokenizers` library's ByteLevel pre-tokenizer does.
///
/// A hand-written scanner instead of a regex: every scalar belongs to exactly
/// one of four classes (letter, number, whitespace, other), so each piece is a
/// contraction, or an optional space plus a run of one class, or a whitespace
/// run, and one look at the next scalar decides which.
package enum PreTokenizer {
    enum ScalarClass {
        case letter, number, whitespace, other
    }

    /// The newest Unicode version that the library's regex engine
    /// (Oniguruma) knows. Scalars assigned later are unassigned to it, so
    /// neither letters nor numbers; Swift's own tables are newer.
    static let regexUnicodeMajorVersion = 16

    /// The class of a scalar as the pattern sees it: `\p{L}` is the general
    /// categories Lu Ll Lt Lm Lo, `\p{N}` is Nd Nl No, `\s` is White_Space.
    static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        let scalarClass: ScalarClass
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            scalarClass = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            scalarClass = .number
        default:
            return .other
        }
        if let age = properties.age, age.major > regexUnicodeMajorVersion { return .other }
        return scalarClass
    }

    /// Calls `body` with the byte range of each piece of `text`, in order.
    /// `text` must be valid UTF-8.
    package static func forEachPiece(in text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let scanner = Scanner(text: text)
        var start = 0
        while start < text.count {
            let end = scanner.pieceEnd(from: start)
            body(start..<end)
            start = end
        }
    }

    private struct Scanner {
        let text: UnsafeBufferPointer<UInt8>

        /// Where the piece that starts at `start` ends, trying the pattern's
        /// alternatives in its order.
        func pieceEnd(from start: Int) -> Int {
            if text[start] == UInt8(ascii: "'"), let length = contractionLength(at: start) {
                return start + length
            }
            var (scalarClass, length) = classAndLength(at: start)
            var runStart = start
            // " ?\p{L}+" and its siblings: a single space joins the run after it.
            if text[start] == UInt8(ascii: " "), start + 1 < text.count {
                let (nextClass, nextLength) = classAndLength(at: start + 1)
                if nextClass != .whitespace {
                    (scalarClass, length, runStart) = (nextClass, nextLength, start + 1)
                }
            }
            if scalarClass != .whitespace {
                return endOfRun(of: scalarClass, from: runStart + length)
            }
            return endOfWhitespace(from: start, firstLength: length)
        }

        /// `'s|'t|'re|'ve|'m|'ll|'d`, lowercase only, as in GPT-2's pattern.
        private func contractionLength(at index: Int) -> Int? {
            guard index + 1 < text.count else { return nil }
            switch text[index + 1] {
            case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
                return 2
            case UInt8(ascii: "r"), UInt8(ascii: "v"):
                return index + 2 < text.count && text[index + 2] == UInt8(ascii: "e") ? 3 : nil
            case UInt8(ascii: "l"):
                return index + 2 < text.count && text[index + 2] == UInt8(ascii: "l") ? 3 : nil
            default:
                return nil
            }
        }

        private func endOfRun(of scalarClass: ScalarClass, from index: Int) -> Int {
            var index = index
            while index < text.count {
                let (nextClass, length) = classAndLength(at: index)
                if nextClass != scalarClass { break }
                index += length
            }
            return index
        }

        /// `\s+(?!\S)|\s+`: a whitespace run followed by a non-space gives
        /// its last scalar to the next piece (so " word" keeps its space),
        /// unless the run is that one scalar.
        private func endOfWhitespace(from start: Int, firstLength: Int) -> Int {
            var lastStart = start
            var index = start + firstLength
            while index < text.count {
                let (nextClass, length) = classAndLength(at: index)
                if nextClass != .whitespace { break }
                lastStart = index
                index += length
            }
            if index == text.count || lastStart == start { return index }
            return lastStart
        }

        private func classAndLength(at index: Int) -> (ScalarClass, Int) {
            let lead = text[index]
            if lead < 0x80 { return (asciiClass(lead), 1) }
            let (scalar, length) = UTF8Scalars.decode(text, at: index)
            return (classify(scalar), length)
        }

        private func asciiClass(_ byte: UInt8) -> ScalarClass {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): .letter
            case UInt8(ascii: "0")...UInt8(ascii: "9"): .number
            case 0x09...0x0D, 0x20: .whitespace
            default: .other
            }
        }
    }
}

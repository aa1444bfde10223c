/// Turns a stream of byte chunks (such as one token's bytes at a time) into
/// text without ever splitting a character: a token may end in the middle of
/// a multi-byte UTF-8 character, so an incomplete tail is held back until the
/// next chunk completes it.
///
/// Bytes that can never become a valid character turn into U+FFFD at once,
/// one per maximal invalid subpart as the Unicode standard recommends, so the
/// concatenated output equals `String(decoding: allBytes, as: UTF8.self)`.
public struct UTF8StreamDecoder: Sendable {
    /// A valid but incomplete character: at most 3 bytes.
    private var pending: [UInt8] = []

    /// Creates a decoder with nothing held.
    public init() {}

    /// Adds `bytes` and returns all text that is now complete; "" if none.
    public mutating func append(_ bytes: [UInt8]) -> String {
        let input = pending.isEmpty ? bytes : pending + bytes
        pending.removeAll(keepingCapacity: true)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            switch Self.scan(input, at: index) {
            case .valid(let length):
                output.append(contentsOf: input[index..<index + length])
                index += length
            case .invalid(let length):
                output.append(contentsOf: Self.replacement)
                index += length
            case .incomplete:
                pending.append(contentsOf: input[index...])
                index = input.count
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Ends the stream: a held incomplete character becomes U+FFFD. Returns
    /// "" if nothing is held. The decoder can then start a new stream.
    public mutating func finish() -> String {
        guard !pending.isEmpty else { return "" }
        pending.removeAll()
        return "\u{FFFD}"
    }

    private static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    private enum Scan {
        case valid(Int)
        /// A maximal subpart that cannot start a valid character.
        case invalid(Int)
        /// A valid start of a character that the input ends too soon for.
        case incomplete
    }

    /// Checks the character starting at `index` against the well-formed
    /// UTF-8 table (Unicode 16, table 3-7).
    private static func scan(_ input: [UInt8], at index: Int) -> Scan {
        let lead = input[index]
        let length: Int
        let secondRange: ClosedRange<UInt8>
        switch lead {
        case 0x00...0x7F: return .valid(1)
        case 0xC2...0xDF: (length, secondRange) = (2, 0x80...0xBF)
        case 0xE0: (length, secondRange) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, secondRange) = (3, 0x80...0xBF)
        case 0xED: (length, secondRange) = (3, 0x80...0x9F)  // no surrogates
        case 0xF0: (length, secondRange) = (4, 0x90...0xBF)
        case 0xF1...0xF3: (length, secondRange) = (4, 0x80...0xBF)
        case 0xF4: (length, secondRange) = (4, 0x80...0x8F)  // nothing past U+10FFFF
        default: return .invalid(1)
        }
        for offset in 1..<length {
            guard index + offset < input.count else { return .incomplete }
            let allowed = offset == 1 ? secondRange : 0x80...0xBF
            guard allowed.contains(input[index + offset]) else { return .invalid(offset) }
        }
        return .valid(length)
    }
}

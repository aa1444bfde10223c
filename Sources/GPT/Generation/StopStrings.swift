/// Finds stop strings in streamed text that arrives a token at a time.
///
/// A stop string can span several tokens, so text that might be the start of
/// one is held back until the next token decides it; text before a match is
/// released and the match itself never is. Matching is on UTF-8 bytes (exact,
/// no Unicode normalisation); a match starts on a character boundary, so the
/// released text is always whole characters.
public struct StopStrings: Sendable {
    private let stops: [[UInt8]]
    private var held: [UInt8] = []

    /// `stops` are matched as given; empty strings are ignored.
    public init(_ stops: [String]) {
        self.stops = stops.map { Array($0.utf8) }.filter { !$0.isEmpty }
    }

    public var isEmpty: Bool { stops.isEmpty }

    /// Adds `text`; returns what can be released now, and whether a stop string was found
    /// (then nothing after it matters).
    public mutating func push(_ text: String) -> (text: String, stopped: Bool) {
        held.append(contentsOf: text.utf8)
        if let match = earliestMatch() {
            let released = String(decoding: held[..<match], as: UTF8.self)
            held = []
            return (released, true)
        }
        let keep = longestSuffixStartingAStop()
        let released = String(decoding: held[..<(held.count - keep)], as: UTF8.self)
        held.removeFirst(held.count - keep)
        return (released, false)
    }

    /// Releases whatever is held (the generation ended without a match).
    public mutating func flush() -> String {
        defer { held = [] }
        return String(decoding: held, as: UTF8.self)
    }

    /// Start of the first stop string found in `held`.
    private func earliestMatch() -> Int? {
        stops.compactMap { stop in firstIndex(of: stop, in: held) }.min()
    }

    /// Length of the longest end of `held` that begins some stop string.
    private func longestSuffixStartingAStop() -> Int {
        var longest = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, held.count), to: longest, by: -1)
            where held[(held.count - length)...].elementsEqual(stop[..<length]) {
                longest = length
                break
            }
        }
        return longest
    }

    private func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count)
        where haystack[start..<start + needle.count].elementsEqual(needle) {
            return start
        }
        return nil
    }
}

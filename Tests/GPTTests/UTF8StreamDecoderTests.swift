import Testing
import GPT

@Suite("UTF8StreamDecoder")
struct UTF8StreamDecoderTests {
    @Test func byteAtATimeNeverSplitsACharacter() {
        let text = "a😀b é 東京 👨‍👩‍👧 \u{10FFFD}"
        var decoder = UTF8StreamDecoder()
        var chunks: [String] = []
        for byte in text.utf8 {
            chunks.append(decoder.append([byte]))
        }
        chunks.append(decoder.finish())
        #expect(chunks.joined() == text)
        #expect(chunks.allSatisfy { !$0.unicodeScalars.contains("\u{FFFD}") })
        // Each chunk is whole scalars, and text appears as soon as it is complete.
        #expect(Array(chunks.prefix(6)) == ["a", "", "", "", "😀", "b"])
    }

    @Test func holdsAtMostAnIncompleteCharacter() {
        var decoder = UTF8StreamDecoder()
        #expect(decoder.append([0xF0, 0x9F, 0x98]) == "")
        #expect(decoder.append([0x80, 0x41]) == "😀A")
        #expect(decoder.append([0xE6, 0x9D]) == "")
        #expect(decoder.finish() == "\u{FFFD}")
        #expect(decoder.finish() == "")
        #expect(decoder.append([0x42]) == "B")
    }

    @Test func invalidBytesBecomeReplacementAtOnce() {
        var decoder = UTF8StreamDecoder()
        #expect(decoder.append([0xFF]) == "\u{FFFD}")
        #expect(decoder.append([0x80, 0x41]) == "\u{FFFD}A")
        // C0 and C1 can never start a character; each byte is replaced.
        #expect(decoder.append([0xC0, 0xAF]) == "\u{FFFD}\u{FFFD}")
        // An encoded surrogate (ED A0 80) is three maximal subparts.
        #expect(decoder.append([0xED, 0xA0, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}")
        // A truncated character followed by ASCII is one replacement.
        #expect(decoder.append([0xE2, 0x82, 0x41]) == "\u{FFFD}A")
        // The held tail turns out wrong when the next chunk arrives.
        #expect(decoder.append([0xF0, 0x9F]) == "")
        #expect(decoder.append([0x41]) == "\u{FFFD}A")
        #expect(decoder.append([0xF4, 0x90, 0x80, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(decoder.finish() == "")
    }

    /// Against the standard library's own repairing decoder, over random bytes
    /// cut into random chunks.
    @Test func matchesStandardLibraryDecoding() {
        var generator = SeededGenerator(seed: 77)
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                                    0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        for _ in 0..<2000 {
            let count = Int.random(in: 0...24, using: &generator)
            let bytes = (0..<count).map { _ in interesting.randomElement(using: &generator)! }
            var decoder = UTF8StreamDecoder()
            var output = ""
            var index = 0
            while index < bytes.count {
                let end = min(bytes.count, index + Int.random(in: 0...4, using: &generator))
                output += decoder.append(Array(bytes[index..<end]))
                index = end
            }
            output += decoder.finish()
            #expect(output == String(decoding: bytes, as: UTF8.self), "\(bytes)")
        }
    }

    /// Streaming token by token gives what the library decodes all at once.
    @Test(arguments: ["gpt2ish.json", "gpt2ish_added.json"])
    func streamsTokenBytes(file: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(file)
        for testCase in try TokenizerFixtures.cases(for: file) {
            var decoder = UTF8StreamDecoder()
            var output = ""
            for id in testCase.ids {
                output += decoder.append(tokenizer.tokenBytes(id))
            }
            output += decoder.finish()
            #expect(output == testCase.expectedDecoded)
        }
    }
}

import Foundation
import Testing
@testable import GPT

@Suite struct StopStringsTests {
    /// Feeds `pieces` and returns everything released and whether it stopped.
    func run(_ stops: [String], _ pieces: [String]) -> (String, Bool) {
        var matcher = StopStrings(stops)
        var out = ""
        for piece in pieces {
            let (text, stopped) = matcher.push(piece)
            out += text
            if stopped { return (out, true) }
        }
        return (out + matcher.flush(), false)
    }

    @Test func stopSpanningSeveralPiecesIsRemoved() {
        #expect(run(["\n\nKING"], ["Go", " hence.\n", "\nKI", "NG HENRY"]) == ("Go hence.", true))
    }

    @Test func heldPrefixIsReleasedWhenItDoesNotComplete() {
        var matcher = StopStrings(["END"])
        #expect(matcher.push("the E") == ("the ", false))   // "E" might start "END"
        #expect(matcher.push("N") == ("", false))
        #expect(matcher.push("D?") == ("", true))
        var other = StopStrings(["END"])
        #expect(other.push("the EN") == ("the ", false))
        #expect(other.push("emy") == ("ENemy", false))
        #expect(other.flush() == "")
    }

    @Test func earliestOfSeveralStopsWins() {
        #expect(run(["b", "cd", "abc"], ["xxabcd"]) == ("xx", true))  // "abc" starts first
        #expect(run(["zz", "y"], ["a y zz"]) == ("a ", true))
    }

    @Test func multiByteTextIsNeverSplit() {
        #expect(run(["é!"], ["caf", "é", "!"]) == ("caf", true))
        #expect(run(["éx"], ["café", " ok"]) == ("café ok", false))
        #expect(run(["🙂"], ["a🙂b"]) == ("a", true))
    }

    @Test func noStopsReleasesEverythingAtOnce() {
        var matcher = StopStrings(["", ""])
        #expect(matcher.isEmpty)
        #expect(matcher.push("abc") == ("abc", false))
    }
}

/// Stop strings inside the generation loop, against a run without them.
@Suite struct GeneratorStopTests {
    @Test func generationEndsBeforeAStopStringSpanningTokens() throws {
        let tokenizer = try Tokenizer(contentsOf: Fixtures.directory.appendingPathComponent("tokenizer/gpt2ish.json"))
        let config = GPTConfig(maxT: 64, vocabularySize: tokenizer.vocabularySize, layers: 1, heads: 2, channels: 32)
        let store = ParameterStore(config: config)
        CheckpointWriter.randomize(store.parameters, config: config, seed: 4)
        let model = Model(weights: store.weights)
        var settings = GenerationSettings()
        settings.numTokens = 40
        settings.topK = 0
        settings.seed = 9

        let free = try TokenGenerator(model: model, tokenizer: tokenizer, prompt: "To be", settings: settings)
        let pieces = free.map(\.text)
        let full = pieces.joined() + free.trailingText
        // A stop string made of the end of token 10 and the start of token 11.
        let (left, right) = (pieces[10], pieces[11])
        #expect(!left.isEmpty && !right.isEmpty)
        let stop = String(left.suffix(1)) + String(right.prefix(2))
        let expected = String(full[..<full.range(of: stop)!.lowerBound])

        settings.stop = [stop]
        let stopped = try TokenGenerator(model: model, tokenizer: tokenizer, prompt: "To be", settings: settings)
        let text = stopped.map(\.text).joined() + stopped.trailingText
        #expect(text == expected)
        #expect(stopped.finishReason == .stop)
        #expect(stopped.usage.generatedTokens <= 12)
    }

    @Test func refusesTooManyOrEmptyStops() {
        var settings = GenerationSettings()
        settings.stop = [""]
        let config = GPTConfig.gpt2Small
        #expect(throws: SettingsError.self) { try settings.validate(for: config) }
        settings.stop = Array(repeating: "x", count: 17)
        #expect(throws: SettingsError.self) { try settings.validate(for: config) }
    }
}

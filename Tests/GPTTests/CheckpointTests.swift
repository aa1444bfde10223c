import Foundation
import Testing
@testable import GPT

/// Loading refuses every malformed file with a message naming the file and the problem.
@Suite final class CheckpointTests {
    let config = GPTConfig(maxT: 8, vocabularySize: 10, layers: 2, heads: 2, channels: 4)
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-checkpoint-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Each test's files go with it.
    deinit { try? FileManager.default.removeItem(at: folder) }

    /// A valid checkpoint's bytes, written by the project's writer.
    func validBytes() throws -> Data {
        let path = folder.appendingPathComponent("valid.bin").path
        try CheckpointWriter.write(config: config, parameters: CheckpointWriter.randomParameters(config: config, seed: 1), to: path)
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// Writes `bytes` to a file and expects loading it to fail with all of `phrases` in the message.
    func expectRefusal(_ bytes: Data, _ phrases: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = folder.appendingPathComponent("case-\(UUID().uuidString).bin").path
        try bytes.write(to: URL(fileURLWithPath: path))
        do {
            _ = try Checkpoint(path: path)
            Issue.record("loaded a malformed checkpoint", sourceLocation: sourceLocation)
        } catch let error as CheckpointError {
            #expect(error.description.hasPrefix(path + ": "), sourceLocation: sourceLocation)
            for phrase in phrases {
                #expect(error.description.contains(phrase), "\(error.description) lacks \(phrase)", sourceLocation: sourceLocation)
            }
        }
    }

    func withHeaderField(_ index: Int, _ value: Int32, in data: Data) -> Data {
        var copy = data
        withUnsafeBytes(of: value.littleEndian) { copy.replaceSubrange(index * 4 ..< index * 4 + 4, with: $0) }
        return copy
    }

    @Test func writtenCheckpointLoadsWithItsValues() throws {
        let parameters = CheckpointWriter.randomParameters(config: config, seed: 5)
        let path = folder.appendingPathComponent("round.bin").path
        try CheckpointWriter.write(config: config, parameters: parameters, to: path)
        let checkpoint = try Checkpoint(path: path)
        #expect(checkpoint.config == config)
        #expect(checkpoint.config.paddedVocabularySize == 128)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect(attributes[.size] as? Int == 1024 + 4 * parameters.count)
        let weights = checkpoint.weights
        #expect(weights[.wte][3] == parameters[3])
        let lnfbOffset = parameters.count - config.channels
        #expect(weights[.lnfb][1] == parameters[lnfbOffset + 1])
        let fcbLayer1 = weights.layer(1, .fcb)
        #expect(fcbLayer1 - weights[.fcb] == 4 * config.channels)
    }

    @Test func refusesBadMagic() throws {
        try expectRefusal(withHeaderField(0, 1234, in: try validBytes()), ["bad magic number 1234", "20240326"])
    }

    @Test func refusesOtherVersions() throws {
        try expectRefusal(withHeaderField(1, 5, in: try validBytes()), ["version 5", "only version 3"])
    }

    @Test func refusesTruncatedFile() throws {
        let bytes = try validBytes()
        try expectRefusal(bytes.dropLast(8), ["truncated", "8 bytes missing"])
    }

    @Test func refusesTrailingBytes() throws {
        try expectRefusal(try validBytes() + Data(count: 12), ["12 trailing bytes"])
    }

    @Test func refusesFileShorterThanHeader() throws {
        try expectRefusal(try validBytes().prefix(100), ["100 bytes", "header"])
        try expectRefusal(Data(), ["0 bytes"])
    }

    @Test(arguments: [(2, "maxT"), (3, "V (vocabulary size)"), (4, "L (layers)"), (5, "NH (heads)"), (6, "C (channels)"), (7, "Vp")])
    func refusesNonPositiveDimensions(field: (Int, String)) throws {
        try expectRefusal(withHeaderField(field.0, 0, in: try validBytes()), [field.1, "is 0", "must be positive"])
        try expectRefusal(withHeaderField(field.0, -3, in: try validBytes()), [field.1, "is -3"])
    }

    @Test func refusesHeadsThatDoNotDivideChannels() throws {
        try expectRefusal(withHeaderField(5, 3, in: try validBytes()), ["C (channels) = 4 is not divisible by NH (heads) = 3"])
    }

    @Test func refusesPaddedVocabularyBelowVocabulary() throws {
        try expectRefusal(withHeaderField(7, 9, in: try validBytes()), ["Vp (padded vocabulary) = 9 is smaller than V (vocabulary) = 10"])
    }

    @Test func refusesHugeDimensionsWithoutOverflow() throws {
        var bytes = withHeaderField(6, Int32.max - 1, in: try validBytes())
        bytes = withHeaderField(5, 1, in: bytes)
        try expectRefusal(bytes, ["C=2147483646", "impossibly large"])
    }

    @Test func refusesMissingFileAndDirectory() throws {
        let missing = folder.appendingPathComponent("nope.bin").path
        #expect(throws: CheckpointError.self) { try Checkpoint(path: missing) }
        do { _ = try Checkpoint(path: missing) } catch { #expect("\(error)" == "\(missing): cannot open: No such file or directory") }
        do { _ = try Checkpoint(path: folder.path) } catch { #expect("\(error)".contains("not a regular file")) }
    }

    /// The numpy reference writes checkpoints too; ours must load them (the fixtures) unchanged.
    @Test func loadsReferenceWrittenCheckpoint() throws {
        let checkpoint = try Checkpoint(path: Fixtures.path("model/odd_channels.bin"))
        #expect(checkpoint.config == GPTConfig(maxT: 24, vocabularySize: 257, layers: 3, heads: 5, channels: 35))
    }
}

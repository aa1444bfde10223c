import Foundation
import GPT
import Testing
@testable import Training

@Suite struct DataTests {
    @Test func batchesAreShiftedWindowsAndRepeatPerStep() throws {
        let tokens = (0..<100).map(Int32.init)
        let sampler = try BatchSampler(tokens: tokens, B: 3, T: 7, seed: 5)
        let (inputs, targets) = sampler.batch(step: 4)
        #expect(inputs.count == 21 && targets.count == 21)
        for b in 0..<3 {
            for t in 0..<7 {
                #expect(targets[b * 7 + t] == inputs[b * 7 + t] + 1)  // consecutive tokens, shifted by one
                if t > 0 { #expect(inputs[b * 7 + t] == inputs[b * 7 + t - 1] + 1) }
            }
        }
        #expect(sampler.batch(step: 4).inputs == inputs)
        #expect(sampler.batch(step: 5).inputs != inputs)
        #expect(throws: TrainingError.self) { try BatchSampler(tokens: Array(tokens[0..<7]), B: 1, T: 7, seed: 1) }
    }

    @Test func windowsCoverEveryPredictedTokenOnce() {
        for (count, T) in [(10, 3), (10, 9), (10, 10), (2, 5)] {
            let windows = Evaluation.windows(tokenCount: count, T: T)
            #expect(windows.reduce(0) { $0 + $1.length } == count - 1)
            #expect(windows.allSatisfy { $0.length <= T && $0.start + $0.length < count })
        }
    }

    @Test func evaluationDoesNotDependOnBatching() {
        let config = GPTConfig(maxT: 8, vocabularySize: 30, layers: 1, heads: 2, channels: 16)
        let model = TrainableGPT(config: config, parameters: CheckpointWriter.randomParameters(config: config, seed: 3), maxB: 4, maxT: 8)
        var random = Xoshiro256StarStar(seed: 4)
        let tokens = (0..<45).map { _ in Int32(random.next() % 30) }
        let batched = Evaluation.run(model, tokens: tokens, B: 4, T: 8)
        let single = Evaluation.run(model, tokens: tokens, B: 1, T: 8)
        #expect(batched.predictedTokens == 44)
        #expect(abs(batched.totalNats - single.totalNats) < 1e-3)
        #expect(abs(batched.meanLoss - log(30)) < 0.2)
        #expect(abs(batched.bitsPerCharacter(characters: 88) - batched.totalNats / 88 / log(2)) < 1e-12)
        let estimate = Evaluation.run(model, tokens: tokens, B: 4, T: 8, windowLimit: 2)
        #expect(estimate.predictedTokens == 16)
    }

    @Test func folderDocumentsAreSortedTxtFilesEachAfterTheSeparator() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("second".utf8).write(to: folder.appendingPathComponent("b.txt"))
        try Data("first".utf8).write(to: folder.appendingPathComponent("a.txt"))
        try Data("ignored".utf8).write(to: folder.appendingPathComponent("README.md"))
        let corpus = try TextCorpus(path: folder.path)
        #expect(corpus.documents == ["first", "second"])
        #expect(corpus.characterCount == 11)

        let vocabulary = BPETrainer(vocabularySize: 270).train(texts: corpus.documents)
        let tokenizer = try Tokenizer(jsonData: Data(vocabulary.tokenizerJSON().utf8), sourceName: "test")
        let tokens = try corpus.tokens(with: tokenizer)
        let separator = Int32(tokenizer.id(ofAddedToken: "<|endoftext|>")!)
        #expect(tokens.first == separator)
        #expect(tokens.filter { $0 == separator }.count == 2)
        #expect(tokenizer.decode(tokens.map(Int.init)) == "<|endoftext|>first<|endoftext|>second")

        #expect(throws: TrainingError.self) { try TextCorpus(path: folder.appendingPathComponent("missing").path) }
        let empty = folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        #expect(throws: TrainingError.self) { try TextCorpus(path: empty.path) }
    }
}

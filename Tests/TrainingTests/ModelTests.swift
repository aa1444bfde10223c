import Foundation
import GPT
import Testing
@testable import Training

/// The whole model: gradients, agreement with the engine, and learning.
@Suite struct ModelTests {
    static let tiny = GPTConfig(maxT: 8, vocabularySize: 50, layers: 2, heads: 2, channels: 16)

    /// Parameters larger than GPT-2's initialisation, so every path carries a
    /// gradient well above float noise; wte's padding rows stay zero.
    static func parameters(_ config: GPTConfig, seed: UInt64) -> [Float] {
        var g = Gaussians(seed: seed)
        var values: [Float] = []
        for tensor in ParameterTensor.allCases {
            let count = tensor.shape(config).reduce(1, *)
            if tensor.isLayerNormWeight {
                values += g.next(count, std: 0.2, mean: 1)
            } else if tensor.isBias {
                values += g.next(count, std: 0.1)
            } else if tensor == .wte {
                let real = config.vocabularySize * config.channels
                values += g.next(real, std: 0.3) + [Float](repeating: 0, count: count - real)
            } else {
                values += g.next(count, std: 0.3)
            }
        }
        return values
    }

    static func tokens(_ count: Int, V: Int, seed: UInt64) -> [Int32] {
        var random = Xoshiro256StarStar(seed: seed)
        return (0..<count).map { _ in Int32(random.next() % UInt64(V)) }
    }

    @Test func wholeModelGradientMatchesFiniteDifferences() {
        let config = Self.tiny
        let (B, T) = (2, 6)
        let model = TrainableGPT(config: config, parameters: Self.parameters(config, seed: 11), maxB: B, maxT: config.maxT)
        let inputs = Self.tokens(B * T, V: config.vocabularySize, seed: 1)
        let targets = Self.tokens(B * T, V: config.vocabularySize, seed: 2)
        model.forward(tokens: inputs, targets: targets, B: B, T: T)
        model.zeroGradients()
        model.backward()
        let analytic = Array(model.gradients)
        var parameters = Array(model.parameters)
        let layout = model.layout
        var random = Xoshiro256StarStar(seed: 3)
        for tensor in ParameterTensor.allCases {
            var range = layout.range(tensor)
            if tensor == .wte { range = range.lowerBound..<range.lowerBound + config.vocabularySize * config.channels }
            if tensor == .wpe { range = range.lowerBound..<range.lowerBound + T * config.channels }  // positions used
            // Eight entries of each tensor, spread over its layers.
            let indices = (0..<8).map { _ in range.lowerBound + Int(random.next() % UInt64(range.count)) }
            GradientCheck.expectMatches("\(tensor)", x: &parameters, analytic: analytic, indices: indices,
                                        eps: 1e-2, tolerance: 2e-2, floor: 2e-5) { values in
                _ = model.parameters.update(from: values)
                return model.totalLossAfterForward(inputs, targets, B: B, T: T) / Double(B * T)
            }
        }
    }

    @Test func logitsEqualTheEngine() {
        let config = GPTConfig(maxT: 32, vocabularySize: 70, layers: 2, heads: 4, channels: 32)
        let parameters = CheckpointWriter.randomParameters(config: config, seed: 5)
        let (B, T) = (2, 19)
        let trainer = TrainableGPT(config: config, parameters: parameters, maxB: 3, maxT: config.maxT)
        let tokens = Self.tokens(B * T, V: config.vocabularySize, seed: 6)
        trainer.forward(tokens: tokens, targets: nil, B: B, T: T)
        let ours = Array(trainer.logits)
        let store = ParameterStore(config: config)
        _ = store.parameters.update(from: parameters)
        let engine = Model(weights: store.weights)
        let V = config.vocabularySize
        for b in 0..<B {
            let theirs = engine.forward(tokens[b * T..<(b + 1) * T].map(Int.init), state: engine.makeState(), allPositions: true)
            var worst: Float = 0
            for i in 0..<T * V { worst = max(worst, abs(ours[b * T * V + i] - theirs[i])) }
            #expect(worst < 1e-5, "sequence \(b): logits differ by up to \(worst)")
        }
    }

    @Test func oneBatchOverfitsToNearZeroLoss() {
        let config = GPTConfig(maxT: 16, vocabularySize: 64, layers: 2, heads: 4, channels: 32)
        let (B, T) = (4, 16)
        let model = TrainableGPT(config: config, parameters: CheckpointWriter.randomParameters(config: config, seed: 7),
                                 maxB: B, maxT: T)
        let optimizer = AdamW(layout: model.layout, weightDecay: 0)
        let tokens = Self.tokens(B * (T + 1), V: config.vocabularySize, seed: 8)
        var inputs: [Int32] = [], targets: [Int32] = []
        for b in 0..<B {
            inputs += tokens[b * (T + 1)..<b * (T + 1) + T]
            targets += tokens[b * (T + 1) + 1..<(b + 1) * (T + 1)]
        }
        var first: Float = 0, loss: Float = 0
        for step in 0..<150 {
            loss = model.forward(tokens: inputs, targets: targets, B: B, T: T)
            if step == 0 { first = loss }
            model.zeroGradients()
            model.backward()
            optimizer.update(parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients), learningRate: 1e-2)
        }
        #expect(abs(first - log(64)) < 0.2, "a fresh model guesses uniformly")
        #expect(loss < 0.05, "loss after 150 steps on one batch: \(loss)")
    }

    @Test func validationLossFallsOnASmallCorpus() throws {
        // Sentences from a small grammar: the validation sentences are new, but their patterns are not.
        var random = Xoshiro256StarStar(seed: 21)
        func pick(_ words: [String]) -> String { words[Int(random.next() % UInt64(words.count))] }
        func sentences(_ count: Int) -> String {
            (0..<count).map { _ in
                "The \(pick(["old", "young", "noble", "wicked"])) \(pick(["king", "queen", "fool", "knight"])) "
                    + "\(pick(["loves", "fears", "serves", "mocks"])) the \(pick(["crown", "sword", "lady", "duke"]))."
            }.joined(separator: "\n")
        }
        let train = TextCorpus(documents: [sentences(300), sentences(300)])
        let val = TextCorpus(documents: [sentences(40)])
        let tokenizer = try Tokenizer(jsonData: Data(BPETrainer(vocabularySize: 300).train(texts: train.documents).tokenizerJSON().utf8),
                                      sourceName: "small corpus")
        let config = GPTConfig(maxT: 16, vocabularySize: tokenizer.vocabularySize, layers: 2, heads: 2, channels: 32)
        let (B, T) = (8, 16)
        let model = TrainableGPT(config: config, parameters: CheckpointWriter.randomParameters(config: config, seed: 1), maxB: B, maxT: T)
        let optimizer = AdamW(layout: model.layout)
        let sampler = try BatchSampler(tokens: try train.tokens(with: tokenizer), B: B, T: T, seed: 2)
        let valTokens = try val.tokens(with: tokenizer)
        let before = Evaluation.run(model, tokens: valTokens, B: B, T: T).meanLoss
        for step in 0..<80 {
            let (inputs, targets) = sampler.batch(step: step)
            model.forward(tokens: inputs, targets: targets, B: B, T: T)
            model.zeroGradients()
            model.backward()
            optimizer.update(parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients), learningRate: 3e-3)
        }
        let after = Evaluation.run(model, tokens: valTokens, B: B, T: T).meanLoss
        #expect(after < before - 2, "validation loss \(before) → \(after)")
    }

    @Test func shorterPassesReuseTheBuffers() {
        let config = Self.tiny
        let model = TrainableGPT(config: config, parameters: Self.parameters(config, seed: 12), maxB: 3, maxT: 8)
        let tokens = Self.tokens(5, V: config.vocabularySize, seed: 4)
        let targets = Self.tokens(5, V: config.vocabularySize, seed: 5)
        let small = TrainableGPT(config: config, parameters: Self.parameters(config, seed: 12), maxB: 1, maxT: 5)
        #expect(model.forward(tokens: tokens, targets: targets, B: 1, T: 5) == small.forward(tokens: tokens, targets: targets, B: 1, T: 5))
    }
}

extension TrainableGPT {
    /// Σ of the losses of one pass, for finite differences.
    func totalLossAfterForward(_ inputs: [Int32], _ targets: [Int32], B: Int, T: Int) -> Double {
        forward(tokens: inputs, targets: targets, B: B, T: T)
        return totalLoss
    }
}

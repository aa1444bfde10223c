import Foundation
import GPT
import Testing
@testable import Training

@Suite struct OptimizerTests {
    static let config = GPTConfig(maxT: 4, vocabularySize: 10, layers: 1, heads: 1, channels: 4)

    @Test func adamWStepMatchesTheFormulaAndDecaysOnlyMatrices() {
        let layout = ParameterLayout(config: Self.config)
        var g = Gaussians(seed: 1)
        var parameters = g.next(layout.count)
        let gradients = g.next(layout.count, std: 0.1)
        let original = parameters
        let optimizer = AdamW(layout: layout, weightDecay: 0.1)
        let lr: Float = 0.01, scale: Float = 0.5
        for _ in 0..<2 {
            parameters.withUnsafeMutableBufferPointer { p in
                gradients.withUnsafeBufferPointer { optimizer.update(parameters: p, gradients: $0, learningRate: lr, gradientScale: scale) }
            }
        }
        #expect(optimizer.step == 2)
        // Two steps with the same gradient by hand, in Double.
        for tensor in ParameterTensor.allCases {
            let decay = ParameterLayout.takesWeightDecay(tensor) ? 0.1 : 0.0
            #expect(decay == ([.wte, .wpe, .qkvw, .attprojw, .fcw, .fcprojw].contains(tensor) ? 0.1 : 0))
            for i in layout.range(tensor) {
                var p = Double(original[i]), m = 0.0, v = 0.0
                let grad = Double(gradients[i]) * Double(scale)
                for t in 1...2 {
                    m = 0.9 * m + 0.1 * grad
                    v = 0.95 * v + 0.05 * grad * grad
                    let mHat = m / (1 - pow(0.9, Double(t))), vHat = v / (1 - pow(0.95, Double(t)))
                    p -= Double(lr) * (mHat / (vHat.squareRoot() + 1e-8) + decay * p)
                }
                #expect(abs(Double(parameters[i]) - p) < 1e-5, "\(tensor)[\(i)]")
            }
        }
    }

    @Test func scheduleWarmsUpThenDecaysToTenPercent() {
        let schedule = LearningRateSchedule(peak: 1e-3, warmupSteps: 10, totalSteps: 110)
        #expect(abs(schedule.rate(at: 0) - 1e-4) < 1e-9)
        #expect(abs(schedule.rate(at: 9) - 1e-3) < 1e-9)
        #expect(abs(schedule.rate(at: 10) - 1e-3) < 1e-9)
        #expect(abs(schedule.rate(at: 59) - 0.55e-3) < 1e-5)  // half way: the middle of peak and floor
        #expect(abs(schedule.rate(at: 109) - 1e-4) < 1e-9)
        for step in 10..<109 { #expect(schedule.rate(at: step + 1) <= schedule.rate(at: step)) }
    }

    @Test func clippingScalesOnlyAboveTheLimit() {
        let gradients: [Float] = [3, 4] + [Float](repeating: 0, count: 10_000)
        let norm = gradients.withUnsafeBufferPointer { GradientClipping.norm($0) }
        #expect(abs(norm - 5) < 1e-9)
        #expect(GradientClipping.scale(norm: norm, maxNorm: 1) == 0.2)
        #expect(GradientClipping.scale(norm: 0.5, maxNorm: 1) == 1)
        let large = [Float](repeating: 1, count: 100_003)
        #expect(abs(large.withUnsafeBufferPointer { GradientClipping.norm($0) } - 100_003.0.squareRoot()) < 1e-6)
    }

    @Test func optimizerStateRoundTripsAndRefusesOtherModels() throws {
        let layout = ParameterLayout(config: Self.config)
        let optimizer = AdamW(layout: layout)
        var g = Gaussians(seed: 2)
        _ = optimizer.firstMoment.update(from: g.next(layout.count))
        _ = optimizer.secondMoment.update(from: g.next(layout.count))
        optimizer.resume(atStep: 17)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("optimizer-\(UUID().uuidString).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try OptimizerStateFile.write(optimizer, config: Self.config, seed: 99, to: path)

        let restored = AdamW(layout: layout)
        let contents = try OptimizerStateFile.read(into: restored, config: Self.config, from: path)
        #expect(contents.step == 17 && contents.seed == 99 && restored.step == 17)
        #expect(Array(restored.firstMoment) == Array(optimizer.firstMoment))
        #expect(Array(restored.secondMoment) == Array(optimizer.secondMoment))

        var other = Self.config
        other.channels = 8
        #expect(throws: TrainingError.self) {
            _ = try OptimizerStateFile.read(into: AdamW(layout: ParameterLayout(config: other)), config: other, from: path)
        }
        try Data("not an optimizer".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: TrainingError.self) { _ = try OptimizerStateFile.read(into: restored, config: Self.config, from: path) }
    }
}

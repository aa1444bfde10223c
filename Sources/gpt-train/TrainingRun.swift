import ArgumentParser
import Foundation
import GPT
import Training

/// One invocation of `gpt-train`: data, tokenizer, model, the step loop, saving.
struct TrainingRun {
    let options: GPTTrain
    let clock = ContinuousClock()

    var outURL: URL { URL(fileURLWithPath: options.out) }
    var checkpointPath: String { outURL.appendingPathComponent("gpt_checkpoint.bin").path }
    var optimizerPath: String { outURL.appendingPathComponent("optimizer.bin").path }
    var tokenizerPath: String { outURL.appendingPathComponent("tokenizer.json").path }

    func run() throws {
        let stop = StopSignal()
        do {
            try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        } catch {
            throw TrainingError("\(options.out): cannot create the output folder (\(error.localizedDescription))")
        }
        if options.resume {
            for path in [checkpointPath, optimizerPath, tokenizerPath] where !FileManager.default.fileExists(atPath: path) {
                throw TrainingError("cannot resume: \(path) is missing (was the run saved to this --out?)")
            }
        }
        let train = try TextCorpus(path: options.dataPath)
        let val = try options.valPath.map { try TextCorpus(path: $0) }
        Console.say("data: \(train.documents.count) training documents (\(train.characterCount) characters)"
            + (val.map { ", \($0.documents.count) validation documents (\($0.characterCount) characters)" } ?? ", no validation text"))

        let tokenizer = try loadOrTrainTokenizer(train)
        let started = clock.now
        let trainTokens = try train.tokens(with: tokenizer)
        let valTokens = try val.map { try $0.tokens(with: tokenizer) }
        Console.say(String(format: "tokens: %d training (%.2f characters per token), %@ validation; encoded in %.1fs",
                           trainTokens.count, Double(train.characterCount) / Double(trainTokens.count),
                           valTokens.map { String($0.count) } ?? "no", seconds(since: started)))

        // The model: a fresh one, or the saved run.
        let B = options.batch
        let config: GPTConfig
        let parameters: [Float]
        if options.resume {
            let checkpoint: Checkpoint
            do { checkpoint = try Checkpoint(path: checkpointPath) } catch { throw TrainingError("cannot resume: \(error)") }
            config = checkpoint.config
            try checkShapeFlags(against: config)
            guard config.vocabularySize == tokenizer.vocabularySize else {
                throw TrainingError("\(checkpointPath) has a vocabulary of \(config.vocabularySize) but \(tokenizerPath) has \(tokenizer.vocabularySize) tokens")
            }
            let weights = checkpoint.weights
            parameters = Array(UnsafeBufferPointer(start: weights[.wte], count: config.parameterCount))
        } else {
            let shape = GPTTrain.defaultShape
            let C = options.dim ?? shape.dim, NH = options.heads ?? shape.heads
            guard C % NH == 0 else { throw ValidationError("--heads (\(NH)) must divide --dim (\(C))") }
            config = GPTConfig(maxT: options.seq ?? shape.seq, vocabularySize: tokenizer.vocabularySize,
                               layers: options.layers ?? shape.layers, heads: NH, channels: C)
            parameters = CheckpointWriter.randomParameters(config: config, seed: options.seed)
        }
        let T = config.maxT
        let model = TrainableGPT(config: config, parameters: parameters, maxB: B, maxT: T)
        let optimizer = AdamW(layout: model.layout, weightDecay: options.weightDecay)
        var seed = options.seed
        if options.resume {
            seed = try OptimizerStateFile.read(into: optimizer, config: config, from: optimizerPath).seed
            Console.say("resuming at step \(optimizer.step) of \(options.steps)")
        }
        let sampler = try BatchSampler(tokens: trainTokens, B: B, T: T, seed: seed)
        let N = model.parameterCount
        Console.say("model: L=\(config.layers) NH=\(config.heads) C=\(config.channels) T=\(T) V=\(config.vocabularySize), "
            + "\(N) parameters (\(String(format: "%.1f", Double(CheckpointHeader.fileSize(for: config)) / 1e6)) MB checkpoint); "
            + "batch \(B) × \(T) = \(B * T) tokens, \(String(format: "%.2f", Double(options.steps * B * T) / Double(trainTokens.count))) epochs over \(options.steps) steps")

        // The loop.
        let schedule = LearningRateSchedule(peak: options.lr, warmupSteps: options.warmup, totalSteps: options.steps)
        var meter = ThroughputMeter()
        var recentLosses: [Float] = []
        let loopStart = clock.now
        while optimizer.step < options.steps && !stop.isRequested {
            let step = optimizer.step
            let stepStart = clock.now
            let (inputs, targets) = sampler.batch(step: step)
            let loss = model.forward(tokens: inputs, targets: targets, B: B, T: T)
            guard loss.isFinite else {
                throw TrainingError("the loss is \(loss) at step \(step + 1); stopping without saving (try a lower --lr)")
            }
            model.zeroGradients()
            model.backward()
            let norm = GradientClipping.norm(UnsafeBufferPointer(model.gradients))
            let scale = options.gradClip > 0 ? GradientClipping.scale(norm: norm, maxNorm: Double(options.gradClip)) : 1
            let rate = schedule.rate(at: step)
            optimizer.update(parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients),
                             learningRate: rate, gradientScale: scale)
            meter.record(seconds: seconds(since: stepStart), tokens: B * T)
            recentLosses = Array((recentLosses + [loss]).suffix(options.logEvery))

            let done = optimizer.step
            var valLoss: Double?
            if let valTokens, options.evalEvery > 0, done % options.evalEvery == 0, done < options.steps {
                valLoss = Evaluation.run(model, tokens: valTokens, B: B, T: T, windowLimit: options.evalWindows).meanLoss
            }
            if done % options.logEvery == 0 || done == options.steps || valLoss != nil {
                let tokensPerSecond = meter.take()
                let eta = meter.secondsPerStep * Double(options.steps - done)
                var line = String(format: "step %5d/%d | loss %.4f", done, options.steps, loss)
                if let valLoss { line += String(format: " | val %.4f", valLoss) }
                line += String(format: " | lr %.2e | norm %.3f | %.0f tok/s | %.1f GFLOP/s | ETA %@",
                               rate, norm, tokensPerSecond, 6 * Double(N) * tokensPerSecond / 1e9, Console.duration(eta))
                Console.say(line)
            }
            if options.ckptEvery > 0, done % options.ckptEvery == 0, done < options.steps {
                try save(model, optimizer, seed: seed)
            }
        }
        try save(model, optimizer, seed: seed)
        let trainSeconds = seconds(since: loopStart)
        if stop.isRequested {
            Console.say("stopped at step \(optimizer.step) of \(options.steps) and saved to \(options.out); continue with --resume")
            return
        }
        var summary = "trained to step \(optimizer.step) in \(Console.duration(trainSeconds))"
        if !recentLosses.isEmpty {
            summary += String(format: " (mean loss of the last %d steps %.4f)", recentLosses.count,
                              recentLosses.reduce(0, +) / Float(recentLosses.count))
        }
        Console.say(summary)

        // Final numbers: the whole validation text, and as many windows of the training text.
        guard let val, let valTokens else { return }
        let evalStart = clock.now
        let valEval = Evaluation.run(model, tokens: valTokens, B: B, T: T)
        let valWindowCount = (valTokens.count - 1 + T - 1) / T
        let trainEval = Evaluation.run(model, tokens: trainTokens, B: B, T: T, windowLimit: valWindowCount)
        Console.say(String(format: "final train loss %.4f (%d windows of the training text)", trainEval.meanLoss, valWindowCount))
        Console.say(String(format: "final val loss %.4f over %d tokens; %.4f bits per character (%d characters); evaluated in %@",
                           valEval.meanLoss, valEval.predictedTokens, valEval.bitsPerCharacter(characters: val.characterCount),
                           val.characterCount, Console.duration(seconds(since: evalStart))))
    }

    // MARK: pieces

    private func loadOrTrainTokenizer(_ train: TextCorpus) throws -> Tokenizer {
        let path: String
        if let given = options.tokenizer {
            // A copy beside the checkpoint keeps the output folder a complete model, and resumable.
            let source = URL(fileURLWithPath: given).standardizedFileURL, target = URL(fileURLWithPath: tokenizerPath).standardizedFileURL
            if source != target {
                do {
                    let data = try Data(contentsOf: source)
                    try data.write(to: target, options: .atomic)
                } catch {
                    throw TrainingError("cannot copy \(given) to \(tokenizerPath) (\(error.localizedDescription))")
                }
            }
            path = tokenizerPath
        } else if options.resume {
            path = tokenizerPath
        } else {
            let started = clock.now
            let vocabulary = BPETrainer(vocabularySize: options.vocabSize, specialTokens: [TextCorpus.documentSeparator])
                .train(texts: train.documents)
            do { try vocabulary.write(to: URL(fileURLWithPath: tokenizerPath)) } catch {
                throw TrainingError("\(tokenizerPath): cannot write (\(error.localizedDescription))")
            }
            Console.say(String(format: "tokenizer: trained %d tokens (%d merges) in %.1fs, saved to %@", vocabulary.vocabularySize,
                               vocabulary.merges.count, seconds(since: started), tokenizerPath))
            path = tokenizerPath
        }
        do { return try Tokenizer(contentsOf: URL(fileURLWithPath: path)) } catch { throw TrainingError("\(error)") }
    }

    /// On resume the shape comes from the checkpoint; a shape flag that disagrees is a usage error.
    private func checkShapeFlags(against config: GPTConfig) throws {
        let given: [(String, Int?, Int)] = [("dim", options.dim, config.channels), ("heads", options.heads, config.heads),
                                            ("layers", options.layers, config.layers), ("seq", options.seq, config.maxT)]
        for (flag, value, saved) in given {
            if let value, value != saved {
                throw ValidationError("--\(flag) \(value) differs from the checkpoint being resumed (\(saved)); leave it out")
            }
        }
    }

    private func save(_ model: TrainableGPT, _ optimizer: AdamW, seed: UInt64) throws {
        do {
            try CheckpointWriter.write(config: model.config, parameters: UnsafeBufferPointer(model.parameters), to: checkpointPath)
        } catch {
            throw TrainingError("\(error)")
        }
        try OptimizerStateFile.write(optimizer, config: model.config, seed: seed, to: optimizerPath)
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        (clock.now - start) / .seconds(1)
    }
}

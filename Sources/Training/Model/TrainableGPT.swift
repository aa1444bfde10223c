import GPT

/// GPT-2 with gradients: the same forward math as the engine's `Model`, over
/// B sequences of T tokens at once, keeping every activation so that
/// `backward` can fill the gradient of each parameter.
///
/// Parameters, gradients and the optimizer's moments share one flat layout,
/// the checkpoint's (`ParameterLayout`). Not thread-safe: one step at a time.
public final class TrainableGPT {
    public let config: GPTConfig
    public let layout: ParameterLayout
    /// Largest batch and sequence length a pass may use.
    public let maxB: Int, maxT: Int

    let parameterBuffer: FloatBuffer  // (parameterCount) in checkpoint order
    let gradientBuffer: FloatBuffer   // (parameterCount) same layout
    private let acts: Activations
    private let grads: ActivationGradients
    /// The last forward pass: its shape, inputs and targets, for backward.
    private var lastB = 0, lastT = 0
    private var inputs: [Int32] = []
    private var targets: [Int32] = []
    private var hasTargets = false

    /// - Parameters:
    ///   - parameters: all tensors in checkpoint order (`config.parameterCount` floats).
    ///   - maxB, maxT: the largest pass; T must fit the position table (maxT ≤ config.maxT).
    public init(config: GPTConfig, parameters: [Float], maxB: Int, maxT: Int) {
        precondition(parameters.count == config.parameterCount, "expected \(config.parameterCount) parameters")
        precondition(maxB >= 1 && maxT >= 1 && maxT <= config.maxT, "need 1 ≤ maxT ≤ \(config.maxT) and maxB ≥ 1")
        precondition(config.channels % config.heads == 0, "C must be a multiple of NH")
        self.config = config
        self.maxB = maxB
        self.maxT = maxT
        layout = ParameterLayout(config: config)
        parameterBuffer = FloatBuffer(count: layout.count)
        _ = parameterBuffer.buffer.update(from: parameters)
        gradientBuffer = FloatBuffer(count: layout.count)
        let (C, NH, L, V) = (config.channels, config.heads, config.layers, config.vocabularySize)
        acts = Activations(B: maxB, T: maxT, C: C, NH: NH, L: L, V: V)
        grads = ActivationGradients(B: maxB, T: maxT, C: C, NH: NH)
    }

    /// All parameters, checkpoint order; writable between steps.
    public var parameters: UnsafeMutableBufferPointer<Float> { parameterBuffer.buffer }
    /// ∂loss/∂parameters after `backward`, same layout.
    public var gradients: UnsafeMutableBufferPointer<Float> { gradientBuffer.buffer }

    /// Parameters that matter for the FLOP count (wte's padding rows excluded).
    public var parameterCount: Int { config.effectiveParameterCount }

    // MARK: forward

    /// Runs B sequences of T tokens and returns the mean cross-entropy of
    /// `targets` (or 0 without targets; the logits are then in `logits`).
    /// - tokens, targets: (B, T) row-major, ids below V.
    @discardableResult
    public func forward(tokens: [Int32], targets: [Int32]?, B: Int, T: Int) -> Float {
        precondition(B >= 1 && B <= maxB && T >= 1 && T <= maxT, "the pass (B \(B), T \(T)) exceeds \(maxB) × \(maxT)")
        precondition(tokens.count == B * T && (targets?.count ?? B * T) == B * T, "tokens and targets must be B · T")
        let V = config.vocabularySize
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < V }, "token ids must be in 0..<\(V)")
        precondition((targets ?? []).allSatisfy { $0 >= 0 && Int($0) < V }, "target ids must be in 0..<\(V)")
        (lastB, lastT, inputs, hasTargets) = (B, T, tokens, targets != nil)
        self.targets = targets ?? []

        let (C, NH, L) = (config.channels, config.heads, config.layers)
        let N = B * T
        let p = ParameterPointers(layout: layout, base: parameterBuffer.pointer)
        let a = acts

        inputs.withUnsafeBufferPointer { tokens in
            Encoder.forward(a.encoded.pointer, tokens.baseAddress!, wte: p[.wte], wpe: p[.wpe], B: B, T: T, C: C)
        }
        var residual = a.encoded.pointer  // (B, T, C) input of layer l
        for l in 0..<L {
            let ln1 = a.layer(a.ln1, l, width: C), qkv = a.layer(a.qkv, l, width: 3 * C)
            let atty = a.layer(a.atty, l, width: C), attproj = a.layer(a.attproj, l, width: C)
            let residual2 = a.layer(a.residual2, l, width: C), ln2 = a.layer(a.ln2, l, width: C)
            let fch = a.layer(a.fch, l, width: 4 * C), fchGelu = a.layer(a.fchGelu, l, width: 4 * C)
            let fcproj = a.layer(a.fcproj, l, width: C), residual3 = a.layer(a.residual3, l, width: C)

            // x += attproj(attention(LN1(x)))
            LayerNorm.forward(ln1, mean: a.layer(a.ln1Mean, l, width: 1), rstd: a.layer(a.ln1Rstd, l, width: 1),
                              residual, weight: p[.ln1w, l], bias: p[.ln1b, l], N: N, C: C)
            Matmul.forward(qkv, ln1, weight: p[.qkvw, l], bias: p[.qkvb, l], N: N, IC: C, OC: 3 * C)
            Attention.forward(atty, att: a.att(l), qkv, B: B, T: T, C: C, NH: NH)
            Matmul.forward(attproj, atty, weight: p[.attprojw, l], bias: p[.attprojb, l], N: N, IC: C, OC: C)
            Residual.forward(residual2, residual, attproj, count: N * C)
            // x += fcproj(gelu(fc(LN2(x))))
            LayerNorm.forward(ln2, mean: a.layer(a.ln2Mean, l, width: 1), rstd: a.layer(a.ln2Rstd, l, width: 1),
                              residual2, weight: p[.ln2w, l], bias: p[.ln2b, l], N: N, C: C)
            Matmul.forward(fch, ln2, weight: p[.fcw, l], bias: p[.fcb, l], N: N, IC: C, OC: 4 * C)
            GELU.forward(fchGelu, fch, count: N * 4 * C)
            Matmul.forward(fcproj, fchGelu, weight: p[.fcprojw, l], bias: p[.fcprojb, l], N: N, IC: 4 * C, OC: C)
            Residual.forward(residual3, residual2, fcproj, count: N * C)
            residual = residual3
        }
        LayerNorm.forward(a.lnf.pointer, mean: a.lnfMean.pointer, rstd: a.lnfRstd.pointer, residual,
                          weight: p[.lnfw], bias: p[.lnfb], N: N, C: C)
        // logits = LN_f(x) · wte[0..<V]ᵀ: the token embedding doubles as the output layer.
        Matmul.forward(a.logits.pointer, a.lnf.pointer, weight: p[.wte], bias: nil, N: N, IC: C, OC: V)
        guard hasTargets else { return 0 }
        self.targets.withUnsafeBufferPointer { targets in
            CrossEntropy.forward(losses: a.losses.pointer, logits: a.logits.pointer, targets: targets.baseAddress!, N: N, V: V)
        }
        return Float(totalLoss / Double(N))
    }

    /// The logits (B, T, V) of the last forward pass without targets.
    public var logits: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: acts.logits.pointer, count: lastB * lastT * config.vocabularySize)
    }

    /// Σ of the per-position losses of the last forward pass with targets, in nats.
    public var totalLoss: Double {
        var sum: Double = 0
        for n in 0..<lastB * lastT { sum += Double(acts.losses.pointer[n]) }
        return sum
    }

    // MARK: backward

    /// Sets every gradient to zero (before a step's `backward`).
    public func zeroGradients() { gradientBuffer.zero() }

    /// Adds ∂(mean loss of the last forward pass)/∂parameters to `gradients`.
    /// - Precondition: the last `forward` had targets; it may be called once per forward.
    public func backward() {
        precondition(hasTargets, "backward needs a forward pass with targets")
        hasTargets = false  // the logits now hold their gradient
        let (B, T) = (lastB, lastT)
        let (C, NH, L, V) = (config.channels, config.heads, config.layers, config.vocabularySize)
        let N = B * T
        let p = ParameterPointers(layout: layout, base: parameterBuffer.pointer)
        let g = ParameterPointers(layout: layout, base: gradientBuffer.pointer)
        let a = acts, d = grads

        // loss = mean over the N positions, so each position's loss has weight 1/N.
        targets.withUnsafeBufferPointer { targets in
            CrossEntropy.backward(a.logits.pointer, targets: targets.baseAddress!, dloss: 1 / Float(N), N: N, V: V)
        }
        Matmul.backward(dinp: d.dln.pointer, dweight: g[.wte], dbias: nil, a.logits.pointer, a.lnf.pointer,
                        weight: p[.wte], N: N, IC: C, OC: V)
        let dresidual = d.dresidual.pointer  // (B, T, C): ∂loss/∂(the residual stream at the current depth)
        dresidual.update(repeating: 0, count: N * C)
        let last = L > 0 ? a.layer(a.residual3, L - 1, width: C) : a.encoded.pointer
        LayerNorm.backward(dinp: dresidual, dweight: g[.lnfw], dbias: g[.lnfb], d.dln.pointer, last,
                           weight: p[.lnfw], mean: a.lnfMean.pointer, rstd: a.lnfRstd.pointer, N: N, C: C)

        for l in stride(from: L - 1, through: 0, by: -1) {
            let residual = l == 0 ? a.encoded.pointer : a.layer(a.residual3, l - 1, width: C)
            let ln1 = a.layer(a.ln1, l, width: C), qkv = a.layer(a.qkv, l, width: 3 * C)
            let atty = a.layer(a.atty, l, width: C), residual2 = a.layer(a.residual2, l, width: C)
            let ln2 = a.layer(a.ln2, l, width: C)
            let fch = a.layer(a.fch, l, width: 4 * C), fchGelu = a.layer(a.fchGelu, l, width: 4 * C)

            // MLP branch: residual3 = residual2 + fcproj(...), so dresidual is also d(fcproj output)
            // and, once LN2's gradient is added, d(residual2).
            Matmul.backward(dinp: d.dhidden.pointer, dweight: g[.fcprojw, l], dbias: g[.fcprojb, l], dresidual, fchGelu,
                            weight: p[.fcprojw, l], N: N, IC: 4 * C, OC: C)
            GELU.backward(d.dhidden.pointer, fch, count: N * 4 * C)
            Matmul.backward(dinp: d.dln.pointer, dweight: g[.fcw, l], dbias: g[.fcb, l], d.dhidden.pointer, ln2,
                            weight: p[.fcw, l], N: N, IC: C, OC: 4 * C)
            LayerNorm.backward(dinp: dresidual, dweight: g[.ln2w, l], dbias: g[.ln2b, l], d.dln.pointer, residual2,
                               weight: p[.ln2w, l], mean: a.layer(a.ln2Mean, l, width: 1),
                               rstd: a.layer(a.ln2Rstd, l, width: 1), N: N, C: C)
            // Attention branch, the same way: dresidual becomes d(layer input).
            Matmul.backward(dinp: d.datty.pointer, dweight: g[.attprojw, l], dbias: g[.attprojb, l], dresidual, atty,
                            weight: p[.attprojw, l], N: N, IC: C, OC: C)
            Attention.backward(dqkv: d.dqkv.pointer, datt: d.datt.pointer, d.datty.pointer, qkv, att: a.att(l),
                               B: B, T: T, C: C, NH: NH)
            Matmul.backward(dinp: d.dln.pointer, dweight: g[.qkvw, l], dbias: g[.qkvb, l], d.dqkv.pointer, ln1,
                            weight: p[.qkvw, l], N: N, IC: C, OC: 3 * C)
            LayerNorm.backward(dinp: dresidual, dweight: g[.ln1w, l], dbias: g[.ln1b, l], d.dln.pointer, residual,
                               weight: p[.ln1w, l], mean: a.layer(a.ln1Mean, l, width: 1),
                               rstd: a.layer(a.ln1Rstd, l, width: 1), N: N, C: C)
        }
        inputs.withUnsafeBufferPointer { tokens in
            Encoder.backward(dwte: g[.wte], dwpe: g[.wpe], dresidual, tokens.baseAddress!, B: B, T: T, C: C)
        }
    }
}

import Foundation
import GPT
import Testing
@testable import Training

/// Each layer's backward pass against finite differences of its forward pass.
@Suite struct LayerGradientTests {
    @Test(arguments: [20, 48])  // a row shorter than the vector width, and one with a remainder
    func layerNorm(C: Int) {
        let N = 3
        var g = Gaussians(seed: 1)
        var inp = g.next(N * C, std: 1, mean: 0.5), weight = g.next(C, std: 0.3, mean: 1), bias = g.next(C, std: 0.3)
        let projection = g.next(N * C)
        func run(_ inp: [Float], _ weight: [Float], _ bias: [Float]) -> ([Float], [Float], [Float]) {
            var out = [Float](repeating: 0, count: N * C), mean = [Float](repeating: 0, count: N), rstd = mean
            LayerNorm.forward(&out, mean: &mean, rstd: &rstd, inp, weight: weight, bias: bias, N: N, C: C)
            return (out, mean, rstd)
        }
        let (_, mean, rstd) = run(inp, weight, bias)
        var dinp = [Float](repeating: 0, count: N * C), dweight = [Float](repeating: 0, count: C), dbias = dweight
        LayerNorm.backward(dinp: &dinp, dweight: &dweight, dbias: &dbias, projection, inp, weight: weight,
                           mean: mean, rstd: rstd, N: N, C: C)
        GradientCheck.expectMatches("dinp", x: &inp, analytic: dinp) { GradientCheck.project(run($0, weight, bias).0, projection) }
        GradientCheck.expectMatches("dweight", x: &weight, analytic: dweight) { GradientCheck.project(run(inp, $0, bias).0, projection) }
        GradientCheck.expectMatches("dbias", x: &bias, analytic: dbias) { GradientCheck.project(run(inp, weight, $0).0, projection) }
    }

    @Test func layerNormAccumulatesIntoInputGradient() {
        let (N, C) = (2, 16)
        var g = Gaussians(seed: 2)
        let inp = g.next(N * C), weight = g.next(C, mean: 1), bias = g.next(C), dout = g.next(N * C)
        var out = [Float](repeating: 0, count: N * C), mean = [Float](repeating: 0, count: N), rstd = mean
        LayerNorm.forward(&out, mean: &mean, rstd: &rstd, inp, weight: weight, bias: bias, N: N, C: C)
        var fresh = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: C), db = dw
        LayerNorm.backward(dinp: &fresh, dweight: &dw, dbias: &db, dout, inp, weight: weight, mean: mean, rstd: rstd, N: N, C: C)
        var accumulated = [Float](repeating: 1, count: N * C)
        LayerNorm.backward(dinp: &accumulated, dweight: &dw, dbias: &db, dout, inp, weight: weight, mean: mean, rstd: rstd, N: N, C: C)
        for i in 0..<N * C { #expect(abs(accumulated[i] - (fresh[i] + 1)) < 1e-6) }
    }

    @Test func matmul() {
        let (N, IC, OC) = (4, 5, 7)
        var g = Gaussians(seed: 3)
        var inp = g.next(N * IC), weight = g.next(OC * IC), bias = g.next(OC)
        let projection = g.next(N * OC)
        func run(_ inp: [Float], _ weight: [Float], _ bias: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: N * OC)
            Matmul.forward(&out, inp, weight: weight, bias: bias, N: N, IC: IC, OC: OC)
            return out
        }
        var dinp = [Float](repeating: 7, count: N * IC)  // overwritten, not accumulated
        var dweight = [Float](repeating: 0, count: OC * IC), dbias = [Float](repeating: 0, count: OC)
        Matmul.backward(dinp: &dinp, dweight: &dweight, dbias: &dbias, projection, inp, weight: weight,
                        N: N, IC: IC, OC: OC)
        GradientCheck.expectMatches("dinp", x: &inp, analytic: dinp) { GradientCheck.project(run($0, weight, bias), projection) }
        GradientCheck.expectMatches("dweight", x: &weight, analytic: dweight) { GradientCheck.project(run(inp, $0, bias), projection) }
        GradientCheck.expectMatches("dbias", x: &bias, analytic: dbias) { GradientCheck.project(run(inp, weight, $0), projection) }
    }

    @Test func matmulForwardMatchesReference() {
        let (N, IC, OC) = (3, 9, 5)
        var g = Gaussians(seed: 4)
        let inp = g.next(N * IC), weight = g.next(OC * IC), bias = g.next(OC)
        var fast = [Float](repeating: 0, count: N * OC), reference = fast
        Matmul.forward(&fast, inp, weight: weight, bias: bias, N: N, IC: IC, OC: OC)
        Kernels.matmulReference(&reference, inp, weight, bias, T: N, IC: IC, OC: OC)
        for i in fast.indices { #expect(abs(fast[i] - reference[i]) < 1e-5) }
    }

    @Test func attention() {
        let (B, T, C, NH) = (2, 5, 8, 2)
        var g = Gaussians(seed: 5)
        var qkv = g.next(B * T * 3 * C)
        let projection = g.next(B * T * C)
        func run(_ qkv: [Float]) -> ([Float], [Float]) {
            var out = [Float](repeating: 0, count: B * T * C), att = [Float](repeating: 0, count: B * NH * T * T)
            Attention.forward(&out, att: &att, qkv, B: B, T: T, C: C, NH: NH)
            return (out, att)
        }
        let (_, att) = run(qkv)
        var dqkv = [Float](repeating: 7, count: B * T * 3 * C), datt = [Float](repeating: 0, count: B * NH * T * T)
        Attention.backward(dqkv: &dqkv, datt: &datt, projection, qkv, att: att, B: B, T: T, C: C, NH: NH)
        GradientCheck.expectMatches("dqkv", x: &qkv, analytic: dqkv) { GradientCheck.project(run($0).0, projection) }
    }

    @Test func attentionForwardMatchesEngineReference() {
        let (T, C, NH) = (6, 8, 2)
        var g = Gaussians(seed: 6)
        let qkv = g.next(T * 3 * C)
        var out = [Float](repeating: 0, count: T * C), att = [Float](repeating: 0, count: NH * T * T)
        Attention.forward(&out, att: &att, qkv, B: 1, T: T, C: C, NH: NH)
        func columns(_ part: Int) -> [Float] {
            (0..<T).flatMap { (t: Int) -> ArraySlice<Float> in qkv[(t * 3 + part) * C..<(t * 3 + part + 1) * C] }
        }
        let keys = columns(1), values = columns(2)
        var reference = [Float](repeating: 0, count: T * C)
        Kernels.attentionReference(&reference, qkv, keys: keys, values: values, start: 0, T: T, C: C, NH: NH)
        for i in out.indices { #expect(abs(out[i] - reference[i]) < 1e-5) }
    }

    @Test func gelu() {
        let count = 37  // two vectors of sixteen and a tail
        var g = Gaussians(seed: 7)
        var inp = g.next(count, std: 2)
        let projection = g.next(count)
        func run(_ inp: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: count)
            GELU.forward(&out, inp, count: count)
            return out
        }
        var grad = projection
        GELU.backward(&grad, inp, count: count)
        GradientCheck.expectMatches("dinp", x: &inp, analytic: grad, eps: 1e-3) { GradientCheck.project(run($0), projection) }
        var reference = inp
        Kernels.geluReference(&reference, count: count)
        for (a, b) in zip(run(inp), reference) { #expect(abs(a - b) < 1e-5) }
    }

    @Test func crossEntropy() {
        let (N, V) = (3, 21)
        var g = Gaussians(seed: 8)
        var logits = g.next(N * V, std: 2)
        let targets: [Int32] = [0, 20, 7]
        func meanLoss(_ logits: [Float]) -> Double {
            var probs = logits, losses = [Float](repeating: 0, count: N)
            CrossEntropy.forward(losses: &losses, logits: &probs, targets: targets, N: N, V: V)
            return losses.reduce(0) { $0 + Double($1) } / Double(N)
        }
        var probs = logits, losses = [Float](repeating: 0, count: N)
        CrossEntropy.forward(losses: &losses, logits: &probs, targets: targets, N: N, V: V)
        for n in 0..<N {
            let row = probs[n * V..<(n + 1) * V]
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
            #expect(abs(losses[n] + log(row[n * V + Int(targets[n])])) < 1e-4)
        }
        CrossEntropy.backward(&probs, targets: targets, dloss: 1 / Float(N), N: N, V: V)
        GradientCheck.expectMatches("dlogits", x: &logits, analytic: probs, eps: 1e-3) { meanLoss($0) }
    }

    @Test func crossEntropyStaysFiniteForHopelessTargets() {
        var logits: [Float] = [200, 0, -200, 0]
        var losses: [Float] = [0]
        CrossEntropy.forward(losses: &losses, logits: &logits, targets: [2], N: 1, V: 4)
        #expect(abs(losses[0] - 400) < 1e-3)
    }

    @Test func encoder() {
        let (B, T, C, V) = (2, 3, 4, 5)
        var g = Gaussians(seed: 9)
        var wte = g.next(V * C), wpe = g.next(T * C)
        let tokens: [Int32] = [1, 4, 1, 0, 1, 3]  // token 1 three times: its gradient rows add up
        let projection = g.next(B * T * C)
        func run(_ wte: [Float], _ wpe: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: B * T * C)
            Encoder.forward(&out, tokens, wte: wte, wpe: wpe, B: B, T: T, C: C)
            return out
        }
        var dwte = [Float](repeating: 0, count: V * C), dwpe = [Float](repeating: 0, count: T * C)
        Encoder.backward(dwte: &dwte, dwpe: &dwpe, projection, tokens, B: B, T: T, C: C)
        GradientCheck.expectMatches("dwte", x: &wte, analytic: dwte) { GradientCheck.project(run($0, wpe), projection) }
        GradientCheck.expectMatches("dwpe", x: &wpe, analytic: dwpe) { GradientCheck.project(run(wte, $0), projection) }
    }

    @Test func residual() {
        let count = 20
        var g = Gaussians(seed: 10)
        var x = g.next(count), branch = g.next(count)
        let projection = g.next(count)
        func run(_ x: [Float], _ branch: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: count)
            Residual.forward(&out, x, branch, count: count)
            return out
        }
        var dx = [Float](repeating: 0, count: count), dbranch = dx
        Residual.backward(dx: &dx, dbranch: &dbranch, projection, count: count)
        GradientCheck.expectMatches("dx", x: &x, analytic: dx) { GradientCheck.project(run($0, branch), projection) }
        GradientCheck.expectMatches("dbranch", x: &branch, analytic: dbranch) { GradientCheck.project(run(x, $0), projection) }
    }
}

/// Everything the forward pass keeps for the backward pass, sized for at most
/// B sequences of T tokens (N = B · T rows). Passes with fewer tokens use the
/// start of each buffer. Per-layer tensors lead with L.
final class Activations {
    let B: Int, T: Int, C: Int, NH: Int, L: Int, V: Int
    var N: Int { B * T }

    let encoded: FloatBuffer     // (B, T, C)      wte[token] + wpe[position]
    let ln1: FloatBuffer         // (L, B, T, C)
    let ln1Mean: FloatBuffer     // (L, B, T)
    let ln1Rstd: FloatBuffer     // (L, B, T)
    let qkv: FloatBuffer         // (L, B, T, 3C)
    let att: FloatBuffer         // (L, B, NH, T, T) softmax weights
    let atty: FloatBuffer        // (L, B, T, C)   attention output before projection
    let attproj: FloatBuffer     // (L, B, T, C)
    let residual2: FloatBuffer   // (L, B, T, C)   after the attention branch
    let ln2: FloatBuffer         // (L, B, T, C)
    let ln2Mean: FloatBuffer     // (L, B, T)
    let ln2Rstd: FloatBuffer     // (L, B, T)
    let fch: FloatBuffer         // (L, B, T, 4C)  before GELU
    let fchGelu: FloatBuffer     // (L, B, T, 4C)
    let fcproj: FloatBuffer      // (L, B, T, C)
    let residual3: FloatBuffer   // (L, B, T, C)   after the MLP branch: the layer's output
    let lnf: FloatBuffer         // (B, T, C)
    let lnfMean: FloatBuffer     // (B, T)
    let lnfRstd: FloatBuffer     // (B, T)
    let logits: FloatBuffer      // (B, T, V)      then probabilities, then their gradient
    let losses: FloatBuffer      // (B, T)

    init(B: Int, T: Int, C: Int, NH: Int, L: Int, V: Int) {
        (self.B, self.T, self.C, self.NH, self.L, self.V) = (B, T, C, NH, L, V)
        let N = B * T
        encoded = FloatBuffer(count: N * C)
        ln1 = FloatBuffer(count: L * N * C)
        ln1Mean = FloatBuffer(count: L * N)
        ln1Rstd = FloatBuffer(count: L * N)
        qkv = FloatBuffer(count: L * N * 3 * C)
        att = FloatBuffer(count: L * B * NH * T * T)
        atty = FloatBuffer(count: L * N * C)
        attproj = FloatBuffer(count: L * N * C)
        residual2 = FloatBuffer(count: L * N * C)
        ln2 = FloatBuffer(count: L * N * C)
        ln2Mean = FloatBuffer(count: L * N)
        ln2Rstd = FloatBuffer(count: L * N)
        fch = FloatBuffer(count: L * N * 4 * C)
        fchGelu = FloatBuffer(count: L * N * 4 * C)
        fcproj = FloatBuffer(count: L * N * C)
        residual3 = FloatBuffer(count: L * N * C)
        lnf = FloatBuffer(count: N * C)
        lnfMean = FloatBuffer(count: N)
        lnfRstd = FloatBuffer(count: N)
        logits = FloatBuffer(count: N * V)
        losses = FloatBuffer(count: N)
    }

    /// Layer l's slice of a per-layer buffer whose rows have `width` floats.
    /// Slices are spaced for the full B · T, whatever the pass uses.
    func layer(_ buffer: FloatBuffer, _ l: Int, width: Int) -> UnsafeMutablePointer<Float> {
        buffer.pointer + l * N * width
    }

    /// Layer l's attention weights.
    func att(_ l: Int) -> UnsafeMutablePointer<Float> { att.pointer + l * B * NH * T * T }
}

/// Gradients of activations, reused by every layer in the backward pass.
final class ActivationGradients {
    let dresidual: FloatBuffer   // (B, T, C)   running gradient of the residual stream
    let dln: FloatBuffer         // (B, T, C)   of a LayerNorm output
    let dqkv: FloatBuffer        // (B, T, 3C)
    let datty: FloatBuffer       // (B, T, C)
    let dhidden: FloatBuffer     // (B, T, 4C)  of the MLP hidden layer, after then before GELU
    let datt: FloatBuffer        // (B, NH, T, T)

    init(B: Int, T: Int, C: Int, NH: Int) {
        let N = B * T
        dresidual = FloatBuffer(count: N * C)
        dln = FloatBuffer(count: N * C)
        dqkv = FloatBuffer(count: N * 3 * C)
        datty = FloatBuffer(count: N * C)
        dhidden = FloatBuffer(count: N * 4 * C)
        datt = FloatBuffer(count: B * NH * T * T)
    }
}

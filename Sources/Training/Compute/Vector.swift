import GPT

/// Sixteen-lane helpers for the row loops of LayerNorm, softmax and AdamW:
/// float sums do not vectorise by themselves (the compiler keeps their order).
enum Vector {
    /// Σ x[i].
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = Floats()
        var i = 0
        while i + 16 <= count { lanes += load(x + i); i += 16 }
        var total = lanes.sum()
        while i < count { total += x[i]; i += 1 }
        return total
    }

    /// Σ x[i] · y[i].
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = Floats()
        var i = 0
        while i + 16 <= count { lanes += load(x + i) * load(y + i); i += 16 }
        var total = lanes.sum()
        while i < count { total += x[i] * y[i]; i += 1 }
        return total
    }

    /// Σ (x[i] - c)².
    @inline(__always)
    static func squaredDeviation(_ x: UnsafePointer<Float>, from c: Float, _ count: Int) -> Float {
        var lanes = Floats()
        let center = Floats(repeating: c)
        var i = 0
        while i + 16 <= count { let d = load(x + i) - center; lanes += d * d; i += 16 }
        var total = lanes.sum()
        while i < count { let d = x[i] - c; total += d * d; i += 1 }
        return total
    }

    /// max x[i] (count ≥ 1).
    @inline(__always)
    static func maximum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var best = -Float.infinity
        var i = 0
        if count >= 16 {
            var lanes = load(x)
            i = 16
            while i + 16 <= count {
                let v = load(x + i)
                lanes.replace(with: v, where: v .> lanes)
                i += 16
            }
            best = lanes.max()
        }
        while i < count { best = max(best, x[i]); i += 1 }
        return best
    }
}

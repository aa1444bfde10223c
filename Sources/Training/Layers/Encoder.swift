/// The embedding: x = wte[token] + wpe[position].
enum Encoder {
    /// out (B, T, C) = wte[tokens[b, t]] + wpe[t].
    /// - tokens (B, T), wte (Vp, C), wpe (maxT, C).
    static func forward(_ out: UnsafeMutablePointer<Float>, _ tokens: UnsafePointer<Int32>,
                        wte: UnsafePointer<Float>, wpe: UnsafePointer<Float>, B: Int, T: Int, C: Int) {
        for b in 0..<B {
            for t in 0..<T {
                let row = out + (b * T + t) * C
                let token = wte + Int(tokens[b * T + t]) * C
                let position = wpe + t * C
                for i in 0..<C { row[i] = token[i] + position[i] }
            }
        }
    }

    /// dwte[tokens[b, t]] += dout[b, t]; dwpe[t] += dout[b, t].
    /// Serial: two positions may hold the same token and write the same row.
    static func backward(dwte: UnsafeMutablePointer<Float>, dwpe: UnsafeMutablePointer<Float>,
                         _ dout: UnsafePointer<Float>, _ tokens: UnsafePointer<Int32>, B: Int, T: Int, C: Int) {
        for b in 0..<B {
            for t in 0..<T {
                let d = dout + (b * T + t) * C
                let token = dwte + Int(tokens[b * T + t]) * C
                let position = dwpe + t * C
                for i in 0..<C {
                    token[i] += d[i]
                    position[i] += d[i]
                }
            }
        }
    }
}

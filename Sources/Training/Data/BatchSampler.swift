import GPT

/// Batches of B random windows of T + 1 consecutive tokens: the first T are
/// the inputs, the last T (shifted by one) the targets.
///
/// The windows of step s come from a generator seeded with (seed, s), so a
/// resumed run draws exactly the batches the uninterrupted run would have.
public struct BatchSampler: Sendable {
    public let tokens: [Int32]
    public let B: Int, T: Int
    public let seed: UInt64

    public init(tokens: [Int32], B: Int, T: Int, seed: UInt64) throws {
        guard tokens.count >= T + 1 else {
            throw TrainingError("the training text is \(tokens.count) tokens; a window needs \(T + 1) (--seq + 1)")
        }
        self.tokens = tokens
        self.B = B
        self.T = T
        self.seed = seed
    }

    /// Inputs and targets (B, T) of step `step`.
    public func batch(step: Int) -> (inputs: [Int32], targets: [Int32]) {
        var random = Xoshiro256StarStar(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(step + 1))
        var inputs: [Int32] = [], targets: [Int32] = []
        inputs.reserveCapacity(B * T)
        targets.reserveCapacity(B * T)
        let starts = UInt64(tokens.count - T)  // a window starts at 0 ... count - T - 1
        for _ in 0..<B {
            let start = Int(random.next() % starts)
            inputs.append(contentsOf: tokens[start..<start + T])
            targets.append(contentsOf: tokens[start + 1..<start + T + 1])
        }
        return (inputs, targets)
    }
}

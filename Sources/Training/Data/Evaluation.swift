import Foundation

/// The loss of a model over a whole token stream, cut into consecutive
/// windows of T tokens (each window predicts its tokens from the ones before
/// it in the same window).
public struct Evaluation: Sendable {
    /// Σ -ln p(token) over every predicted token, in nats.
    public let totalNats: Double
    /// Tokens predicted: every token of the stream but the first.
    public let predictedTokens: Int

    /// Mean loss per token, in nats.
    public var meanLoss: Double { totalNats / Double(max(1, predictedTokens)) }

    /// Bits per character: the summed nats ÷ the text's characters ÷ ln 2.
    public func bitsPerCharacter(characters: Int) -> Double { totalNats / Double(characters) / log(2) }

    /// Windows (start, length) covering the stream: token i + 1 is predicted from window tokens up to i.
    static func windows(tokenCount: Int, T: Int) -> [(start: Int, length: Int)] {
        stride(from: 0, to: max(0, tokenCount - 1), by: T).map { ($0, min(T, tokenCount - 1 - $0)) }
    }

    /// Evaluates `tokens` with `model` in batches of up to B windows.
    /// - Parameter windowLimit: use only this many windows, evenly spread
    ///   over the stream (a quick estimate during training); nil for all.
    public static func run(_ model: TrainableGPT, tokens: [Int32], B: Int, T: Int, windowLimit: Int? = nil) -> Evaluation {
        var windows = Self.windows(tokenCount: tokens.count, T: T)
        if let windowLimit, windowLimit < windows.count {
            let all = windows
            windows = (0..<windowLimit).map { all[$0 * all.count / windowLimit] }
        }
        var nats: Double = 0
        var predicted = 0
        var full = windows.filter { $0.length == T }[...]
        while !full.isEmpty {
            let group = full.prefix(B)
            full = full.dropFirst(group.count)
            var inputs: [Int32] = [], targets: [Int32] = []
            for window in group {
                inputs += tokens[window.start..<window.start + T]
                targets += tokens[window.start + 1..<window.start + T + 1]
            }
            model.forward(tokens: inputs, targets: targets, B: group.count, T: T)
            nats += model.totalLoss
            predicted += group.count * T
        }
        for window in windows where window.length < T {
            model.forward(tokens: Array(tokens[window.start..<window.start + window.length]),
                          targets: Array(tokens[window.start + 1..<window.start + window.length + 1]),
                          B: 1, T: window.length)
            nats += model.totalLoss
            predicted += window.length
        }
        return Evaluation(totalNats: nats, predictedTokens: predicted)
    }
}

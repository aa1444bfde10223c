/// Log-probabilities of every token of a text given the tokens before it: the
/// measure behind perplexity, `echo` in the completions API and `gpt-score`.
///
/// As in generation, the model sees at most `window` tokens (max_seq_len) and
/// predicts the token after them. A longer text is scored with a sliding
/// window: each pass feeds up to `window` tokens, starting `stride` tokens
/// after the previous pass (the last pass moved back to end with the text),
/// and keeps only the predictions of tokens no earlier pass scored. So every
/// token is scored once, the first `window` of them from all tokens before
/// them, and each later one from at least `window - stride + 1` tokens. The
/// default stride is half the window, as in llama.cpp's perplexity tool: a
/// fair balance of context against passes; a stride equal to the window
/// gives disjoint windows.
public enum Scoring {
    /// Half the window (at least 1).
    public static func defaultStride(window: Int) -> Int { max(1, window / 2) }

    /// Rows of logits fetched per pass: bounds memory to rows × V floats
    /// however long the window (a 1024-token window of GPT-2 would be 200 MB at once).
    static let rowsPerPass = 64

    /// One entry per token of `tokens`: nil for the first (nothing predicts
    /// it), else the token's log-probability and its `alternatives` most
    /// likely rivals. `stride` is 1 ... `window` (default: half the window).
    /// `progress` hears the number of tokens scored so far.
    public static func score(_ tokens: [Int], model: Model, window: Int, stride: Int? = nil, alternatives: Int = 0,
                             progress: ((Int) -> Void)? = nil) -> [TokenLogprob?] {
        precondition(window >= 1 && window <= model.config.maxT, "the window must be 1 ... the model's context")
        let stride = min(max(1, stride ?? defaultStride(window: window)), window)
        let V = model.config.vocabularySize
        let state = model.makeState(capacity: window)
        var scores: [TokenLogprob?] = tokens.isEmpty ? [] : [nil]
        var start = 0
        while scores.count < tokens.count {
            // This pass feeds tokens start ..< end; position p predicts token p + 1.
            // The last token is never fed: nothing after it needs predicting.
            let end = min(start + window, tokens.count - 1)
            start = max(0, end - window)
            state.reset()
            var row = scores.count - 1  // the position that predicts the first unscored token
            if row > start { _ = model.forward(Array(tokens[start ..< row]), state: state) }
            while row < end {
                let rows = min(rowsPerPass, end - row)
                let logits = model.forward(Array(tokens[row ..< row + rows]), state: state, allPositions: true)
                for r in 0..<rows {
                    scores.append(TokenLogprob(id: tokens[row + r + 1], logits: Array(logits[r * V ..< (r + 1) * V]),
                                               alternatives: alternatives))
                }
                row += rows
                progress?(scores.count)
            }
            start += stride
        }
        return scores
    }
}

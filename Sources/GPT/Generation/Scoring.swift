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
        let scorer = Scorer(tokens, model: model, window: window, stride: stride, alternatives: alternatives)
        while let piece = scorer.nextPiece(maxRows: .max) {
            let logits = model.forward(segments: [(piece.tokens, piece.state, piece.scored ? .all : .none)])[0]
            scorer.complete(logits: logits)
            if piece.scored { progress?(scorer.scores.count) }
        }
        return scorer.scores
    }
}

/// Scoring (see ``Scoring``) one pass at a time, so that a server can run
/// the passes between other generations' tokens. Pieces follow
/// `TokenGenerator.windowPiece`, so their size does not change a score.
package final class Scorer {
    let tokens: [Int]
    let window: Int
    let stride: Int
    let alternatives: Int
    private let model: Model
    private let state: RunState
    package private(set) var scores: [TokenLogprob?]
    /// The window pass under way feeds tokens start ..< end (nil between passes).
    private var pass: (start: Int, end: Int)?
    private var nextStart = 0

    package init(_ tokens: [Int], model: Model, window: Int, stride: Int? = nil, alternatives: Int = 0) {
        precondition(window >= 1 && window <= model.config.maxT, "the window must be 1 ... the model's context")
        self.tokens = tokens
        self.window = window
        self.stride = min(max(1, stride ?? Scoring.defaultStride(window: window)), window)
        self.alternatives = alternatives
        self.model = model
        state = model.makeState(capacity: window)
        scores = tokens.isEmpty ? [] : [nil]
    }

    package var isDone: Bool { scores.count >= tokens.count }

    /// The next piece (about `maxRows` tokens at most, and ``Scoring/rowsPerPass`` for scored ones) to run on `state`:
    /// tokens before the first unscored prediction (`scored` false), or
    /// positions whose logits (all of them) `complete(logits:)` needs. Nil when every token is scored.
    package func nextPiece(maxRows: Int) -> (tokens: [Int], state: RunState, scored: Bool)? {
        guard !isDone else { return nil }
        if pass == nil {
            // This pass feeds tokens start ..< end; position p predicts token p + 1.
            // The last token is never fed: nothing after it needs predicting.
            let end = min(nextStart + window, tokens.count - 1)
            pass = (max(0, end - window), end)
            state.reset()
        }
        let (start, end) = pass!
        let fed = start + state.length
        let row = scores.count - 1  // the position that predicts the first unscored token
        if fed < row {
            let piece = TokenGenerator.windowPiece(remaining: row - fed, limit: maxRows)
            return (Array(tokens[fed ..< fed + piece]), state, false)
        }
        // Logits are rows x V floats: at most rowsPerPass rows of them at once.
        let piece = TokenGenerator.windowPiece(remaining: end - row, limit: min(maxRows, Scoring.rowsPerPass))
        return (Array(tokens[row ..< row + piece]), state, true)
    }

    /// Takes the logits of the piece `nextPiece` gave (nil for an unscored one; else (T, V)).
    package func complete(logits: [Float]?) {
        guard let logits, let (_, end) = pass else { return }
        let V = model.config.vocabularySize
        let row = scores.count - 1
        for r in 0 ..< logits.count / V {
            scores.append(TokenLogprob(id: tokens[row + r + 1], logits: Array(logits[r * V ..< (r + 1) * V]),
                                       alternatives: alternatives))
        }
        if scores.count - 1 >= end {
            pass = nil
            nextStart = max(0, end - window) + stride
        }
    }
}

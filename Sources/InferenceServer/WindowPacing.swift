/// How many rows of window passes (new prompts, windows that slid) a turn
/// takes while other generations are streaming.
///
/// A turn that carries window rows delays every running stream's next token
/// by the time those rows take. Alone, a prompt runs in one pass (its first
/// token as soon as possible); beside running streams it runs in pieces
/// sized so that such a turn lasts about `stallFactor` times a turn of
/// decode steps alone: the streams slow down by at most that factor instead
/// of stopping for the whole prompt. (The steps cost such a turn little:
/// Model.linear reads each tile of weights once for them and the piece.)
/// Both times are measured as the server runs (moving averages of whole
/// turns), so the pieces follow the model, the machine and its load; a
/// turn's fixed part (its steps, reading the weights) is spread over its
/// rows, so the pieces settle where turns last the target. The pieces do not
/// change any result: a window pass gives the same bits in any pieces of two
/// rows or more (`TokenGenerator.windowPiece`).
struct WindowPacing {
    /// Longest turn with window rows, as a multiple of a turn of decode steps
    /// alone (the setting prompt_stall_factor); 0: windows run whole.
    let stallFactor: Double
    /// Largest piece while others stream, whatever the times say (tests fix it to count pieces).
    let maximumRows: Int
    /// Chosen so that the streams' longest gap stays within 4 times their
    /// usual one, as measured from the clients (bench_stall.py): a turn's
    /// length varies, and the pieces follow averages.
    static let defaultStallFactor = 3.5
    /// Fewest rows a window pass gets per turn, so that a piece keeps the gemm efficient.
    static let minimumRows = 16
    /// Rows per turn before the first measurements.
    static let initialRows = 48
    /// Weight of the newest measurement in the averages.
    static let smoothing = 0.2

    /// Seconds of a turn of decode steps alone, and of a turn with window
    /// rows beside steps, per window row.
    private(set) var stepSeconds: Double?
    private(set) var rowSeconds: Double?

    /// The rows the window passes of a turn may take together: unlimited
    /// when the turn has no decode steps (nobody is waiting for a token).
    init(stallFactor: Double = defaultStallFactor, maximumRows: Int = .max) {
        self.stallFactor = stallFactor
        self.maximumRows = max(Self.minimumRows, maximumRows)
    }

    func rowBudget(withSteps: Bool) -> Int {
        guard withSteps, stallFactor > 0 else { return .max }
        guard let stepSeconds, let rowSeconds, rowSeconds > 0 else { return min(Self.initialRows, maximumRows) }
        let rows = stallFactor * stepSeconds / rowSeconds
        return min(maximumRows, max(Self.minimumRows, Int(min(rows, 1e6))))
    }

    /// Records a pass of `steps` decode steps and `windowRows` window rows that took `seconds`.
    /// (Passes of windows alone run whole and say nothing about pieces.)
    mutating func record(steps: Int, windowRows: Int, seconds: Double) {
        guard steps > 0 else { return }
        if windowRows == 0 {
            stepSeconds = Self.average(stepSeconds, seconds)
        } else {
            rowSeconds = Self.average(rowSeconds, seconds / Double(windowRows))
        }
    }

    private static func average(_ old: Double?, _ new: Double) -> Double {
        old.map { $0 + smoothing * (new - $0) } ?? new
    }
}

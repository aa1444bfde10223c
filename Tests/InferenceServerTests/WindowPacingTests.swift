import Testing
@testable import InferenceServer

/// How many window rows a turn takes: unlimited when nobody streams,
/// otherwise what keeps a turn near `stallFactor` decode turns, from times
/// measured as the server runs.
@Suite struct WindowPacingTests {
    @Test func aPromptAloneRunsWhole() {
        var pacing = WindowPacing()
        pacing.record(steps: 3, windowRows: 0, seconds: 0.025)
        #expect(pacing.rowBudget(withSteps: false) == .max)
    }

    /// prompt_stall_factor 0: prompts run whole even while others stream.
    @Test func aFactorOfZeroRunsPromptsWhole() {
        var pacing = WindowPacing(stallFactor: 0)
        pacing.record(steps: 3, windowRows: 0, seconds: 0.025)
        pacing.record(steps: 3, windowRows: 40, seconds: 0.1)
        #expect(pacing.rowBudget(withSteps: true) == .max)
    }

    @Test func beforeAnyMeasurementThePiecesAreTheInitialSize() {
        #expect(WindowPacing().rowBudget(withSteps: true) == WindowPacing.initialRows)
    }

    /// Decode turns of 25 ms, and turns with window rows of 1.5 ms a row plus
    /// 10 ms: the pieces settle where such a turn lasts 4 decode turns,
    /// (100 - 10) / 1.5 = 60 rows.
    @Test func piecesSettleWhereATurnLastsFourDecodeTurns() {
        var pacing = WindowPacing(stallFactor: 4)
        for _ in 0..<200 {
            pacing.record(steps: 3, windowRows: 0, seconds: 0.025)
            let rows = pacing.rowBudget(withSteps: true)
            pacing.record(steps: 3, windowRows: rows, seconds: 0.010 + Double(rows) * 0.0015)
            pacing.record(steps: 0, windowRows: 500, seconds: 3)  // a prompt alone: no say
        }
        #expect(abs(pacing.stepSeconds! - 0.025) < 1e-9)
        #expect(abs(pacing.rowBudget(withSteps: true) - 60) <= 1)
    }

    /// A slow model (or a busy machine) still moves a prompt forward by the minimum each turn.
    @Test func piecesNeverShrinkBelowTheMinimum() {
        var pacing = WindowPacing()
        pacing.record(steps: 1, windowRows: 0, seconds: 0.001)
        pacing.record(steps: 1, windowRows: 10, seconds: 1)
        #expect(pacing.rowBudget(withSteps: true) == WindowPacing.minimumRows)
    }

    /// The averages follow a change (the machine got busy) within a few turns.
    @Test func theAveragesFollowAChange() {
        var pacing = WindowPacing()
        pacing.record(steps: 1, windowRows: 0, seconds: 0.010)
        for _ in 0..<30 { pacing.record(steps: 1, windowRows: 0, seconds: 0.040) }
        #expect(abs(pacing.stepSeconds! - 0.040) < 0.001)
    }
}

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

    @Test func beforeAnyMeasurementThePiecesAreTheInitialSize() {
        #expect(WindowPacing().rowBudget(withSteps: true) == WindowPacing.initialRows)
    }

    /// Decode turns of 25 ms and window rows of 1.5 ms: (4 - 1) · 25 / 1.5 = 50 rows,
    /// so that a turn with them lasts about 4 decode turns.
    @Test func piecesFillThreeDecodeTurns() {
        var pacing = WindowPacing()
        for _ in 0..<50 {
            pacing.record(steps: 3, windowRows: 0, seconds: 0.025)
            pacing.record(steps: 3, windowRows: 40, seconds: 0.025 + 40 * 0.0015)  // the steps' part is known
            pacing.record(steps: 0, windowRows: 100, seconds: 100 * 0.0015)        // a pass of windows alone
        }
        #expect(abs(pacing.stepSeconds! - 0.025) < 1e-9)
        #expect(abs(pacing.rowSeconds! - 0.0015) < 1e-9)
        #expect(pacing.rowBudget(withSteps: true) == 50)
    }

    /// A slow model (or a busy machine) still moves a prompt forward by the minimum each turn.
    @Test func piecesNeverShrinkBelowTheMinimum() {
        var pacing = WindowPacing()
        pacing.record(steps: 1, windowRows: 0, seconds: 0.001)
        pacing.record(steps: 0, windowRows: 10, seconds: 1)
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

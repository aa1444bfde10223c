import Foundation
@testable import GPT

/// Committed test data, made by the scripts under `scripts/` (independent references).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    /// Expected values for one random model, from `scripts/make_model_fixtures.py`.
    struct ModelCase: Decodable {
        struct Config: Decodable { let maxT, V, L, NH, C, Vp: Int }
        struct LastLogits: Decodable { let tokens: [Int]; let logits_last: [Double] }
        struct AllLogits: Decodable { let tokens: [Int]; let logits: [[Double]] }
        struct Greedy: Decodable { let prompt: [Int]; let max_seq_len: Int; let num_tokens: Int; let ids: [Int] }
        let name: String
        let config: Config
        let cases: [LastLogits]
        let logits_all: AllLogits
        let greedy: [Greedy]
    }

    static let modelNames = ["one_head", "many_heads", "odd_channels", "wide"]

    static func model(_ name: String) throws -> (Checkpoint, ModelCase) {
        let checkpoint = try Checkpoint(path: path("model/\(name).bin"))
        let data = try Data(contentsOf: directory.appendingPathComponent("model/\(name).json"))
        return (checkpoint, try JSONDecoder().decode(ModelCase.self, from: data))
    }

    /// Largest |a - b| / (|b| + 1e-3)... relative to the scale of the whole vector,
    /// so tiny logits near zero do not dominate.
    static func relativeError(_ actual: [Float], _ expected: [Double]) -> Double {
        precondition(actual.count == expected.count)
        let scale = max(expected.map(abs).max() ?? 1, 1e-6)
        return zip(actual, expected).map { abs(Double($0) - $1) }.max()! / scale
    }
}

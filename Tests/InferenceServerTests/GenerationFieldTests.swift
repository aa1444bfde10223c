import GPT
import JSON
import Testing
@testable import InferenceServer

/// The table of request fields against the engine's own check: every value the
/// table lets through at its bounds is one the engine accepts, and the request
/// parser refuses a value just past each bound.
@Suite struct GenerationFieldTests {
    static let model = GPTConfig(maxT: 64, vocabularySize: 100, layers: 1, heads: 1, channels: 8)
    static let limits = FieldLimits(model: model, server: ServerConfig())

    /// The lowest and highest values a field allows, and one just past each.
    static func edges(_ field: GenerationField) -> (inside: [JSONValue], outside: [JSONValue])? {
        switch field.kind {
        case .integer(_, let minimum, let maximum):
            let upper = Int(limits.resolve(maximum))
            return ([.integer(minimum), .integer(upper)], [.integer(minimum - 1), .integer(upper + 1)])
        case .number(_, let minimum, let exclusiveMinimum, let maximum):
            let upper = limits.resolve(maximum)
            // The engine holds a Float: the least value above the bound is Float's, not Double's.
            let lower = exclusiveMinimum ? Double(Float(minimum).nextUp) : minimum
            return ([.number(lower), .number(upper)], [.number(exclusiveMinimum ? minimum : minimum.nextDown), .number(upper.nextUp)])
        case .boolean, .prompt, .seed, .stop, .logitBias, .logprobs:
            return nil
        }
    }

    func parse(_ field: String, _ value: JSONValue) throws(APIError) -> GenerateRequest {
        let text: String = switch value {
        case .integer(let number): "\(number)"
        case .number(let number): "\(number)"
        default: "null"
        }
        return try GenerateRequest(body: Array(#"{"prompt": [1], "\#(field)": \#(text)}"#.utf8), defaults: GenerationDefaults(),
                                   limits: Self.limits, config: Self.model)
    }

    @Test func boundsAgreeWithTheEngine() throws {
        var checked = 0
        for field in GenerationField.all {
            guard let (inside, outside) = Self.edges(field) else { continue }
            for value in inside {
                // The parser accepts it, and so does the engine's check (which the parser also runs).
                #expect(throws: Never.self, "\(field.name) = \(value)") { _ = try parse(field.name, value) }
            }
            for value in outside {
                #expect(throws: APIError.self, "\(field.name) = \(value)") { _ = try parse(field.name, value) }
            }
            checked += 1
        }
        #expect(checked == 13)
    }

    /// Field names are unique, and so are their OpenAI names.
    @Test func namesAreUnique() {
        #expect(Set(GenerationField.names).count == GenerationField.all.count)
        let openAI = GenerationField.all.compactMap(\.openAI?.name)
        #expect(Set(openAI).count == openAI.count)
    }
}

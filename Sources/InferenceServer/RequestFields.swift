import GPT
import JSON

/// Typed fields of a JSON request body, read the same way for `/generate` and
/// `/v1/completions`. Every error names the field and the values it allows.
struct RequestFields {
    let object: JSONObject
    /// How messages name a field: `field "temp"` in this API, plain `temperature` in OpenAI's.
    let label: (String) -> String
    /// OpenAI's API reads null as "not given"; `/generate` refuses it as a wrong type.
    let nullIsAbsent: Bool

    /// The field's value; nil when absent (or null, where null means absent).
    subscript(key: String) -> JSONValue? {
        guard let value = object[key] else { return nil }
        if nullIsAbsent, case .null = value { return nil }
        return value
    }

    func integer(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let field = self[key] else { return value }
        guard case .integer(let number) = field, range.contains(number) else {
            throw .badRequest("\(label(key)) must be an integer from \(range.lowerBound) to \(range.upperBound); got \(field.description)",
                              param: key)
        }
        return number
    }

    /// `openLow`: the lower bound itself is not allowed (top_p must be above 0).
    func number(_ key: String, default value: Double, in range: ClosedRange<Double>, openLow: Bool = false) throws(APIError) -> Double {
        guard let field = self[key] else { return value }
        let number: Double
        switch field {
        case .integer(let integer): number = Double(integer)
        case .number(let double): number = double
        default: number = .nan
        }
        guard range.contains(number), !(openLow && number == range.lowerBound) else {
            let bounds = openLow ? "greater than \(range.lowerBound.formatted) and at most \(range.upperBound.formatted)"
                                 : "from \(range.lowerBound.formatted) to \(range.upperBound.formatted)"
            throw .badRequest("\(label(key)) must be a number \(bounds); got \(field.description)", param: key)
        }
        return number
    }

    func boolean(_ key: String, default value: Bool) throws(APIError) -> Bool {
        guard let field = self[key] else { return value }
        guard case .bool(let flag) = field else {
            throw .badRequest("\(label(key)) must be true or false; got \(field.description)", param: key)
        }
        return flag
    }

    /// A seed from 0 to Int.max; nil when absent or null (in both APIs).
    func seed(_ key: String = "seed") throws(APIError) -> UInt64? {
        guard let field = object[key], field.kindName != "null" else { return nil }
        guard case .integer(let value) = field, value >= 0 else {
            throw .badRequest("\(label(key)) must be an integer from 0 to \(Int.max); got \(field.description)", param: key)
        }
        return UInt64(value)
    }

    /// `{"token id": bias}` as OpenAI sends it (ids as strings); ranges are the engine's to check.
    func logitBias(_ key: String = "logit_bias") throws(APIError) -> [Int: Float] {
        guard let field = self[key] else { return [:] }
        guard case .object(let map) = field else {
            throw .badRequest("\(label(key)) must be an object mapping token ids to biases from -100 to 100, such as {\"50256\": -100}; got \(field.description)",
                              param: key)
        }
        var biases: [Int: Float] = [:]
        for (id, value) in map.members {
            let bias: Double
            switch value {
            case .integer(let integer): bias = Double(integer)
            case .number(let number): bias = number
            default: throw .badRequest("\(label(key)) values must be numbers from -100 to 100; got \(value.description) for \"\(id)\"", param: key)
            }
            guard let token = Int(id) else {
                throw .badRequest("\(label(key)) keys must be token ids written as strings, such as \"50256\"; got \"\(id)\"", param: key)
            }
            biases[token] = Float(bias)
        }
        return biases
    }

    /// How many alternatives to show beside each token's log-probability; nil
    /// (no log-probabilities) when absent or null, in both APIs.
    func logprobs(_ key: String = "logprobs") throws(APIError) -> Int? {
        guard let field = object[key], field.kindName != "null" else { return nil }
        return try integer(key, default: 0, in: 0...TokenLogprob.maxAlternatives)
    }

    /// Stop strings: a string or a list of strings; none when absent or null (in both APIs).
    func stopStrings(_ key: String = "stop") throws(APIError) -> [String] {
        let problem = "\(label(key)) must be a string or a list of at most \(GenerationSettings.maxStopStrings) strings"
        switch object[key] {
        case nil, .null?: return []
        case .string(let text)?: return [text]
        case .array(let items)?:
            var strings: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw .badRequest("\(problem); got \(item.description) in the list", param: key) }
                strings.append(text)
            }
            return strings
        case let other?: throw .badRequest("\(problem); got \(other.description)", param: key)
        }
    }
}

private extension Double {
    /// 1.0 as "1", 0.5 as "0.5".
    var formatted: String { self == rounded() ? String(Int(self)) : String(self) }
}

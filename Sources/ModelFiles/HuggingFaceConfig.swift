import JSON

/// The fields of a Hugging Face GPT-2 `config.json` that decide the model, and
/// refusals for settings this engine does not compute (other activations,
/// epsilons, attention scalings).
public struct HuggingFaceConfig {
    public let shape: GPT2Shape
    public let layerNormEpsilon: Double

    /// Activations that are GPT-2's tanh approximation of GELU.
    public static let tanhGELUNames: Set<String> = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"]

    public init(bytes: [UInt8], file: String) throws {
        let object = try JSONObject.parse(bytes, file: file, expected: "an object")
        guard case .string(let modelType)? = object["model_type"], modelType == "gpt2" else {
            throw ModelFileError(file, "model_type is \(object["model_type"].map { "\($0)" } ?? "missing"); only \"gpt2\" is supported")
        }
        func integer(_ keys: [String]) throws -> Int {
            for key in keys {
                guard let value = object[key] else { continue }
                guard case .integer(let number) = value, number > 0 else {
                    throw ModelFileError(file, "\(key) is \(value); expected a positive integer")
                }
                return number
            }
            throw ModelFileError(file, "\(keys.joined(separator: " or ")) is missing")
        }
        shape = GPT2Shape(maxT: try integer(["n_positions", "n_ctx"]), vocabularySize: try integer(["vocab_size"]),
                          layers: try integer(["n_layer"]), heads: try integer(["n_head"]), channels: try integer(["n_embd"]))
        try shape.validate(file: file)
        switch object["n_inner"] {
        case nil, .null?: break
        case .integer(let inner)? where inner == 4 * shape.channels: break
        case let other?: throw ModelFileError(file, "n_inner is \(other); only null or 4 × n_embd (\(4 * shape.channels)) is supported")
        }
        switch object["activation_function"] {
        case nil: break
        case .string(let name)? where Self.tanhGELUNames.contains(name): break
        case let other?:
            throw ModelFileError(file, "activation_function is \(other); only GPT-2's tanh GELU (\(Self.tanhGELUNames.sorted().joined(separator: ", "))) is supported")
        }
        switch object["layer_norm_epsilon"] {
        case nil: layerNormEpsilon = 1e-5
        case .number(let value)? where abs(value - 1e-5) <= 1e-12: layerNormEpsilon = value
        case let other?: throw ModelFileError(file, "layer_norm_epsilon is \(other); only 1e-05 is supported")
        }
        for (key, expected) in [("scale_attn_weights", true), ("scale_attn_by_inverse_layer_idx", false)] {
            switch object[key] {
            case nil: break
            case .bool(let flag)? where flag == expected: break
            case let other?: throw ModelFileError(file, "\(key) is \(other); only \(expected) is supported")
            }
        }
    }
}

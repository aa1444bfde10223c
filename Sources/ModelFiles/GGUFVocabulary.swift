/// The tokenizer a GGUF file carries in its metadata (`tokenizer.ggml.*`),
/// as llama.cpp's converter writes it for GPT-2: byte-level BPE tokens in id
/// order, their types, and the merges in rank order.
public struct GGUFVocabulary: Sendable {
    /// llama.cpp's token types.
    public enum TokenType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public let tokens: [String]
    public let types: [TokenType]
    /// "left right" strings.
    public let merges: [String]
    public let bosID: Int?
    public let eosID: Int?

    public init(tokens: [String], types: [TokenType], merges: [String], bosID: Int?, eosID: Int?) {
        self.tokens = tokens
        self.types = types
        self.merges = merges
        self.bosID = bosID
        self.eosID = eosID
    }

    /// The vocabulary of `gguf`, nil if it carries none; refuses one that is not GPT-2's kind.
    init?(_ gguf: GGUFFile, file: String) throws {
        guard let tokenValue = gguf.value("tokenizer.ggml.tokens") else { return nil }
        let model = gguf.value("tokenizer.ggml.model")
        guard case .string("gpt2")? = model else {
            throw ModelFileError(file, "metadata tokenizer.ggml.model is \(model.map { "\($0)" } ?? "missing"); only \"gpt2\" (byte-level BPE) is supported")
        }
        func strings(_ key: String, _ value: GGUFValue) throws -> [String] {
            guard case .array(let items) = value else { throw ModelFileError(file, "metadata \(key) is \(value.kindName); expected an array of strings") }
            return try items.map { item in
                guard case .string(let text) = item else { throw ModelFileError(file, "metadata \(key) holds \(item.kindName); expected strings") }
                return text
            }
        }
        tokens = try strings("tokenizer.ggml.tokens", tokenValue)
        merges = try gguf.value("tokenizer.ggml.merges").map { try strings("tokenizer.ggml.merges", $0) } ?? []
        if let typeValue = gguf.value("tokenizer.ggml.token_type") {
            guard case .array(let items) = typeValue, items.count == tokens.count else {
                throw ModelFileError(file, "metadata tokenizer.ggml.token_type must be an array with one type per token (\(tokens.count))")
            }
            types = try items.enumerated().map { index, item in
                guard let raw = item.integer, let type = TokenType(rawValue: raw) else {
                    throw ModelFileError(file, "metadata tokenizer.ggml.token_type[\(index)] is \(item); expected 1 to 6")
                }
                return type
            }
        } else {
            types = Array(repeating: .normal, count: tokens.count)
        }
        let tokenCount = tokens.count
        func id(_ key: String) throws -> Int? {
            guard let value = gguf.value(key) else { return nil }
            guard let id = value.integer, id >= 0, id < tokenCount else {
                throw ModelFileError(file, "metadata \(key) is \(value); expected a token id below \(tokenCount)")
            }
            return id
        }
        bosID = try id("tokenizer.ggml.bos_token_id")
        eosID = try id("tokenizer.ggml.eos_token_id")
    }
}

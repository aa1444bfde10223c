import GPT
import JSON

/// A prompt as a request gives it: text, or token ids (OpenAI's API allows both).
enum Prompt: Sendable, Equatable {
    case text(String)
    case tokens([Int])

    /// A non-empty string, or a non-empty list of token ids below `vocabularySize`.
    static func parse(_ value: JSONValue, field: String, vocabularySize V: Int) throws(APIError) -> Prompt {
        switch value {
        case .string(let text) where !text.isEmpty:
            return .text(text)
        case .array(let items) where !items.isEmpty:
            return .tokens(try tokenIDs(items, field: field, vocabularySize: V))
        default:
            throw .badRequest("field \"\(field)\" must be a non-empty string or a non-empty list of token ids (0 to \(V - 1)); got \(value.description)",
                              param: field)
        }
    }

    /// Every item an integer id in 0..<V; the message names the first that is not.
    static func tokenIDs(_ items: [JSONValue], field: String, vocabularySize V: Int) throws(APIError) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard case .integer(let id) = item, id >= 0, id < V else {
                throw .badRequest("field \"\(field)\" item \(index) must be a token id from 0 to \(V - 1); got \(item.description)",
                                  param: field)
            }
            ids.append(id)
        }
        return ids
    }

    /// OpenAI's `prompt`: one prompt (a string or a list of ids), or a batch
    /// (a list of strings, or a list of lists of ids).
    static func parseBatch(_ value: JSONValue, field: String, vocabularySize V: Int) throws(APIError) -> [Prompt] {
        guard case .array(let items) = value, let first = items.first else {
            return [try parse(value, field: field, vocabularySize: V)]
        }
        switch first {
        case .integer: return [try parse(value, field: field, vocabularySize: V)]
        case .string, .array:
            var prompts: [Prompt] = []
            for (index, item) in items.enumerated() {
                guard item.kindName == first.kindName else {
                    throw .badRequest("field \"\(field)\" must be a string, a list of token ids, a list of strings or a list of token-id lists; item \(index) is \(item.kindName), item 0 \(first.kindName)",
                                      param: field)
                }
                prompts.append(try parse(item, field: "\(field)[\(index)]", vocabularySize: V))
            }
            return prompts
        default:
            throw .badRequest("field \"\(field)\" must be a string, a list of token ids, a list of strings or a list of token-id lists; got a list of \(first.kindName)",
                              param: field)
        }
    }

    func tokens(_ tokenizer: Tokenizer) -> [Int] {
        switch self {
        case .text(let text): tokenizer.encode(text)
        case .tokens(let ids): ids
        }
    }

    /// The text as given, or what the ids decode to.
    func text(_ tokenizer: Tokenizer) -> String {
        switch self {
        case .text(let text): text
        case .tokens(let ids): tokenizer.decode(ids)
        }
    }
}

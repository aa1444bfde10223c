import GPT
import HTTP
import JSON

extension Router {
    /// `POST /tokenize`: `{"content": "...", "with_pieces": bool}` → the ids
    /// the model's tokenizer gives, or with pieces each id's text and bytes.
    func tokenize(_ request: HTTPRequest, model: GenerationScheduler) throws(APIError) -> HTTPResponse {
        try requireJSON(request)
        let object = try Self.bodyObject(request.body, fields: ["content", "with_pieces"], example: #"{"content": "To be"}"#)
        guard case .string(let content)? = object["content"] else {
            throw .badRequest("field \"content\" is required: the text to tokenize, a string", param: "content")
        }
        let withPieces = try RequestFields(object: object, label: { "field \"\($0)\"" }, nullIsAbsent: false)
            .boolean("with_pieces", default: false)
        let tokenizer = model.textModel.tokenizer
        let ids = tokenizer.encode(content)
        guard withPieces else { return json(200, TokenIDs(tokens: ids)) }
        return json(200, TokenPieces(tokens: ids.map { TokenPieces.Piece(id: $0, tokenizer: tokenizer) }))
    }

    /// `POST /detokenize`: `{"tokens": [ids]}` → `{"content": "..."}`.
    func detokenize(_ request: HTTPRequest, model: GenerationScheduler) throws(APIError) -> HTTPResponse {
        try requireJSON(request)
        let object = try Self.bodyObject(request.body, fields: ["tokens"], example: #"{"tokens": [464, 318]}"#)
        let V = model.textModel.tokenizer.vocabularySize
        guard case .array(let items)? = object["tokens"] else {
            throw .badRequest("field \"tokens\" is required: a list of token ids from 0 to \(V - 1)", param: "tokens")
        }
        let ids = try Prompt.tokenIDs(items, field: "tokens", vocabularySize: V)
        return json(200, DetokenizedText(content: model.textModel.tokenizer.decode(ids)))
    }

    /// A JSON object body with only `fields`, each at most once.
    static func bodyObject(_ body: [UInt8], fields: [String], example: String) throws(APIError) -> JSONObject {
        let object = try RequestBody.object(body, example: example)
        try RequestBody.requireKnown(object, fields: fields)
        return object
    }
}

struct TokenIDs: Encodable {
    let tokens: [Int]
}

/// `/tokenize` with pieces: each token's id, its own text (see `Tokenizer.piece`) and raw bytes.
struct TokenPieces: Encodable {
    struct Piece: Encodable {
        let id: Int
        let text: String
        let bytes: [UInt8]
        init(id: Int, tokenizer: Tokenizer) {
            self.id = id
            text = tokenizer.piece(id)
            bytes = tokenizer.tokenBytes(id)
        }
    }
    let tokens: [Piece]
}

struct DetokenizedText: Encodable {
    let content: String
}

import JSON

/// The first checks of every JSON request body, alike on every route: it
/// parses, it is an object, and it names only known fields, each once.
enum RequestBody {
    /// The body as a JSON object; `example` shows what one looks like.
    static func object(_ body: [UInt8], example: String) throws(APIError) -> JSONObject {
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            throw .badRequest("the body is not valid JSON: \(error)", code: "invalid_json")
        }
        guard case .object(let object) = document else {
            throw .badRequest("the body must be a JSON object such as \(example); got \(document.kindName)")
        }
        return object
    }

    /// Refuses a field not in `fields`, or one given twice.
    static func requireKnown(_ object: JSONObject, fields: [String]) throws(APIError) {
        var seen = Set<String>()
        for (key, _) in object.members {
            guard fields.contains(key) else {
                throw .badRequest("unknown field \"\(key)\"; allowed fields: \(fields.joined(separator: ", "))",
                                  code: "unknown_field", param: key)
            }
            guard seen.insert(key).inserted else { throw .badRequest("field \"\(key)\" appears twice", param: key) }
        }
    }
}

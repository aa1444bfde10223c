import JSON

extension JSONObject {
    /// The object that `bytes` of `file` must hold (config.json, an index, a
    /// safetensors header), or an error naming the file: that the bytes (the
    /// file itself, or `subject` within it) are not JSON, or hold another
    /// kind of value than the `expected` object.
    static func parse(_ bytes: [UInt8], file: String, subject: String? = nil, expected: String) throws -> JSONObject {
        let root: JSONValue
        do {
            root = try JSONValue.parse(bytes)
        } catch {
            throw ModelFileError(file, (subject.map { "\($0) is " } ?? "") + "not JSON: \(error)")
        }
        guard case .object(let object) = root else {
            throw ModelFileError(file, "\(subject ?? "the top level") is \(root.kindName); expected \(expected)")
        }
        return object
    }
}

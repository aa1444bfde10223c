import JSON
/// Reads a Hugging Face `tokenizer.json` into a `TokenizerDefinition`,
/// refusing whatever would make encoding differ from the `tokenizers`
/// library (version 0.23): only a GPT-2 style byte-level BPE is accepted.
///
/// Fields that only change offsets (`trim_offsets`) or that cannot matter once
/// every byte is in the vocab (`unk_token`, `fuse_unk`) are accepted and unused.
struct TokenizerFileReader {
    /// Names the file in every message.
    let source: String

    func read(_ bytes: [UInt8]) throws(TokenizerError) -> TokenizerDefinition {
        let root: JSONValue
        do {
            root = try JSONValue.parse(bytes)
        } catch {
            throw fail("malformed JSON at byte \(error.offset): \(error.message)")
        }
        return try read(root)
    }

    /// Reads a parsed document (or one built in memory, as for a GGUF file's vocabulary).
    func read(_ root: JSONValue) throws(TokenizerError) -> TokenizerDefinition {
        guard case .object(let top) = root else { throw fail("the top level is \(root.kindName); expected an object") }

        try requireNull(top["truncation"], path: "truncation", because: "truncation changes the ids")
        try requireNull(top["padding"], path: "padding", because: "padding changes the ids")
        try requireNull(top["normalizer"], path: "normalizer", because: "normalizers are not implemented")
        let addPrefixSpace = try readPreTokenizer(top["pre_tokenizer"])
        try checkPostProcessor(top["post_processor"])
        try checkDecoder(top["decoder"])
        guard let model = top["model"] else { throw fail("model is missing") }
        let (vocab, merges, ignoreMerges) = try readModel(model)
        let addedTokens = try readAddedTokens(top["added_tokens"], vocab: vocab)
        return TokenizerDefinition(
            vocab: vocab, merges: merges, ignoreMerges: ignoreMerges,
            addPrefixSpace: addPrefixSpace, addedTokens: addedTokens)
    }

    // MARK: Pipeline steps around the model

    private func readPreTokenizer(_ value: JSONValue?) throws(TokenizerError) -> Bool {
        let supported = "only \"ByteLevel\", alone or as the one step of a \"Sequence\", is supported"
        guard case .object(let object)? = value else {
            throw fail("pre_tokenizer is \(describe(value)); \(supported)")
        }
        switch typeName(of: object) {
        case "ByteLevel":
            return try readByteLevel(object, path: "pre_tokenizer")
        case "Sequence":
            guard case .array(let steps)? = object["pretokenizers"] else {
                throw fail("pre_tokenizer.pretokenizers is \(describe(object["pretokenizers"])); expected an array")
            }
            guard steps.count == 1, case .object(let step) = steps[0], typeName(of: step) == "ByteLevel" else {
                let names = steps.map(describe).joined(separator: ", ")
                throw fail("pre_tokenizer is a \"Sequence\" of [\(names)]; \(supported)")
            }
            return try readByteLevel(step, path: "pre_tokenizer.pretokenizers[0]")
        default:
            throw fail("pre_tokenizer is \(describe(value)); \(supported)")
        }
    }

    /// Returns `add_prefix_space`.
    private func readByteLevel(_ object: JSONObject, path: String) throws(TokenizerError) -> Bool {
        let addPrefixSpace = try bool(object, "add_prefix_space", path: path)
        // Offsets only, but the library refuses a file without it.
        _ = try bool(object, "trim_offsets", path: path)
        guard try bool(object, "use_regex", path: path, default: true) else {
            throw fail("\(path).use_regex is false; only true (GPT-2's split pattern) is supported")
        }
        return addPrefixSpace
    }

    private func checkPostProcessor(_ value: JSONValue?) throws(TokenizerError) {
        switch value {
        case nil, .null?:
            return
        case .object(let object)? where typeName(of: object) == "ByteLevel":
            return  // only trims offsets; the ids are unchanged
        default:
            throw fail("post_processor is \(describe(value)); only null or \"ByteLevel\" is supported")
        }
    }

    private func checkDecoder(_ value: JSONValue?) throws(TokenizerError) {
        guard case .object(let object)? = value, typeName(of: object) == "ByteLevel" else {
            throw fail("decoder is \(describe(value)); only \"ByteLevel\" is supported")
        }
    }

    // MARK: Helpers shared by the readers

    func fail(_ problem: String) -> TokenizerError {
        TokenizerError(source: source, problem)
    }

    func typeName(of object: JSONObject) -> String? {
        if case .string(let name)? = object["type"] { return name }
        return nil
    }

    /// A value as messages show it: strings quoted, a component by its type.
    func describe(_ value: JSONValue?) -> String {
        switch value {
        case nil: "missing"
        case .null?: "null"
        case .bool(let flag)?: String(flag)
        case .integer(let number)?: String(number)
        case .number(let number)?: String(number)
        case .string(let text)?: quoted(text)
        case .array?: "an array"
        case .object(let object)?: typeName(of: object).map(quoted) ?? "an object"
        }
    }

    func quoted(_ text: String) -> String {
        text.debugDescription
    }

    func requireNull(_ value: JSONValue?, path: String, because reason: String) throws(TokenizerError) {
        switch value {
        case nil, .null?: return
        default: throw fail("\(path) is \(describe(value)); only null is supported (\(reason))")
        }
    }

    /// A boolean member; `defaultValue` nil means the library requires it.
    func bool(_ object: JSONObject, _ key: String, path: String, default defaultValue: Bool? = nil) throws(TokenizerError) -> Bool {
        switch object[key] {
        case .bool(let flag)?:
            return flag
        case nil:
            guard let defaultValue else { throw fail("\(path).\(key) is missing") }
            return defaultValue
        case let other?:
            throw fail("\(path).\(key) is \(describe(other)); expected true or false")
        }
    }

    /// An id: an integer that fits the `Int32` the tables store.
    func id(_ value: JSONValue?, path: String) throws(TokenizerError) -> Int32 {
        guard case .integer(let number)? = value, number >= 0, number <= Int(Int32.max) else {
            throw fail("\(path) is \(describe(value)); expected an id from 0 to \(Int32.max)")
        }
        return Int32(number)
    }
}

import JSON
extension TokenizerFileReader {
    /// Reads `added_tokens` (absent means none, as in the library).
    func readAddedTokens(_ value: JSONValue?, vocab: [String: Int32]) throws(TokenizerError) -> [TokenizerDefinition.AddedToken] {
        guard let value else { return [] }
        guard case .array(let items) = value else { throw fail("added_tokens is \(describe(value)); expected an array") }
        var tokens: [TokenizerDefinition.AddedToken] = []
        var seen = Set<String>()
        var assigner = LibraryIDAssigner(vocab: vocab)
        for (index, item) in items.enumerated() {
            let path = "added_tokens[\(index)]"
            let token = try readAddedToken(item, path: path)
            guard seen.insert(token.content).inserted else {
                throw fail("\(path).content \(quoted(token.content)) appears twice in added_tokens")
            }
            // The library ignores the ids in the file and numbers the tokens
            // itself; a file whose ids differ would decode differently here.
            let expected = assigner.assign(token.content)
            guard token.id == expected else {
                throw fail("\(path) (\(quoted(token.content))) has id \(token.id), "
                    + "but the tokenizers library would give it id \(expected)")
            }
            tokens.append(token)
        }
        try checkStripping(tokens)
        return tokens
    }

    private func readAddedToken(_ value: JSONValue, path: String) throws(TokenizerError) -> TokenizerDefinition.AddedToken {
        guard case .object(let object) = value else { throw fail("\(path) is \(value.kindName); expected an object") }
        let id = try id(object["id"], path: "\(path).id")
        guard case .string(let content)? = object["content"] else {
            throw fail("\(path).content is \(describe(object["content"])); expected a string")
        }
        guard !content.isEmpty else { throw fail("\(path).content is empty") }
        if try bool(object, "single_word", path: path) {
            throw fail("\(path).single_word is true; only false is supported")
        }
        _ = try bool(object, "special", path: path)  // decides only what decoding may skip
        return TokenizerDefinition.AddedToken(
            id: Int(id), content: content,
            lstrip: try bool(object, "lstrip", path: path),
            rstrip: try bool(object, "rstrip", path: path),
            normalized: try bool(object, "normalized", path: path))
    }

    /// An `rstrip` match swallows the whitespace after it, and the library
    /// still looks for the next token inside that whitespace; a token that
    /// starts with whitespace can then match there, and the library emits
    /// overlapping pieces (duplicated text) or panics. Refused rather than
    /// copied. Only tokens matched in the same pass can meet this way.
    private func checkStripping(_ tokens: [TokenizerDefinition.AddedToken]) throws(TokenizerError) {
        for normalized in [false, true] {
            let pass = tokens.filter { $0.normalized == normalized }
            guard let stripping = pass.first(where: \.rstrip),
                  let spaced = pass.first(where: { UTF8Scalars.isWhitespace($0.content.unicodeScalars.first!) })
            else { continue }
            throw fail("added token \(quoted(stripping.content)) has rstrip and added token \(quoted(spaced.content)) "
                + "starts with whitespace; the tokenizers library matches such tokens inconsistently, so this is not supported")
        }
    }
}

/// Gives added tokens the ids the library gives them when it loads a file:
/// a token already in the vocab keeps its id; a new one gets the vocab's
/// entry count, or one more than the highest added id once that is reached.
private struct LibraryIDAssigner {
    let vocab: [String: Int32]
    private var highest: Int?

    init(vocab: [String: Int32]) {
        self.vocab = vocab
    }

    mutating func assign(_ content: String) -> Int {
        let id: Int
        if let known = vocab[content] {
            id = Int(known)
        } else if let highest, highest >= vocab.count || vocab.isEmpty {
            id = highest + 1
        } else {
            id = vocab.count
        }
        highest = max(highest ?? id, id)
        return id
    }
}

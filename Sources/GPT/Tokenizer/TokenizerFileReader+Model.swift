import JSON
extension TokenizerFileReader {
    /// Reads `model`: its vocab, its merges in rank order, and `ignore_merges`.
    func readModel(_ value: JSONValue) throws(TokenizerError) -> (
        vocab: [String: Int32], merges: [TokenizerDefinition.Merge], ignoreMerges: Bool
    ) {
        guard case .object(let model) = value else { throw fail("model is \(value.kindName); expected an object") }
        // The library takes a model without a type as BPE too.
        if let type = model["type"], type.stringValue != "BPE" {
            throw fail("model.type is \(describe(type)); only \"BPE\" is supported")
        }
        try requireNull(model["dropout"], path: "model.dropout", because: "dropout makes encoding random")
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            switch model[key] {
            case nil, .null?, .string("")?: break
            case let other?: throw fail("model.\(key) is \(describe(other)); only null or \"\" is supported")
            }
        }
        if try bool(model, "byte_fallback", path: "model", default: false) {
            throw fail("model.byte_fallback is true; only false is supported (byte-level BPE never needs it)")
        }
        let ignoreMerges = try bool(model, "ignore_merges", path: "model", default: false)
        switch model["unk_token"] {
        case nil, .null?, .string?: break  // never used: every byte has a token
        case let other?: throw fail("model.unk_token is \(describe(other)); expected a string or null")
        }
        let vocab = try readVocab(model["vocab"])
        let merges = try readMerges(model["merges"], vocab: vocab)
        return (vocab, merges, ignoreMerges)
    }

    private func readVocab(_ value: JSONValue?) throws(TokenizerError) -> [String: Int32] {
        guard case .object(let entries)? = value else {
            throw fail("model.vocab is \(describe(value)); expected an object of token: id")
        }
        var vocab = [String: Int32](minimumCapacity: entries.members.count)
        var tokenByID = [Int32: String](minimumCapacity: entries.members.count)
        for (token, idValue) in entries.members {
            let id = try id(idValue, path: "model.vocab[\(quoted(token))]")
            if vocab.updateValue(id, forKey: token) != nil {
                throw fail("model.vocab has \(quoted(token)) twice")
            }
            if let other = tokenByID.updateValue(token, forKey: id) {
                throw fail("model.vocab gives id \(id) to both \(quoted(other)) and \(quoted(token))")
            }
        }
        // Without a token for some byte the library silently drops that byte.
        for byte in 0...255 {
            let token = String(ByteLevel.scalarForByte[byte])
            guard vocab[token] != nil else {
                throw fail("model.vocab has no token for byte \(byte) (\(quoted(token))); byte-level BPE needs all 256")
            }
        }
        return vocab
    }

    private func readMerges(_ value: JSONValue?, vocab: [String: Int32]) throws(TokenizerError) -> [TokenizerDefinition.Merge] {
        guard case .array(let items)? = value else {
            throw fail("model.merges is \(describe(value)); expected an array")
        }
        // The library reads either all "a b" strings or all ["a", "b"] pairs.
        let asStrings = items.first?.stringValue != nil
        var merges: [TokenizerDefinition.Merge] = []
        merges.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            let path = "model.merges[\(index)]"
            let left: String, right: String
            switch (item, asStrings) {
            case (.string(let line), true):
                // merges.txt headers; the library skips them before ranking.
                if line.hasPrefix("#version") { continue }
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw fail("\(path) is \(quoted(line)); expected two tokens separated by one space")
                }
                (left, right) = (String(parts[0]), String(parts[1]))
            case (.array(let pair), false):
                guard pair.count == 2, let first = pair[0].stringValue, let second = pair[1].stringValue else {
                    throw fail("\(path) is not a pair of strings; expected [\"left\", \"right\"]")
                }
                (left, right) = (first, second)
            default:
                throw fail("\(path) is \(describe(item)), but model.merges[0] is \(describe(items[0])); "
                    + "merges must be all \"left right\" strings or all [\"left\", \"right\"] pairs")
            }
            merges.append(try resolve(left, right, vocab: vocab, path: path))
        }
        return merges
    }

    private func resolve(_ left: String, _ right: String, vocab: [String: Int32], path: String) throws(TokenizerError) -> TokenizerDefinition.Merge {
        guard let leftID = vocab[left] else { throw fail("\(path) uses \(quoted(left)), which is not in model.vocab") }
        guard let rightID = vocab[right] else { throw fail("\(path) uses \(quoted(right)), which is not in model.vocab") }
        guard let resultID = vocab[left + right] else {
            throw fail("\(path) makes \(quoted(left + right)), which is not in model.vocab")
        }
        return TokenizerDefinition.Merge(left: leftID, right: rightID, result: resultID)
    }
}

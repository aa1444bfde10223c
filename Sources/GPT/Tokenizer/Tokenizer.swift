import Foundation

/// A GPT-2 style byte-level BPE tokenizer read from a Hugging Face
/// `tokenizer.json`, encoding exactly as the `tokenizers` library (0.23) does.
///
/// Encoding finds the added tokens first (such as `<|endoftext|>`), then
/// splits the text between them with GPT-2's pattern and merges each piece's
/// bytes. Files that ask for anything else (normalizers, other models or
/// pre-tokenizers, dropout, ...) are refused with a `TokenizerError` rather
/// than encoded differently.
///
/// Immutable, so one instance can be shared by any number of threads.
public final class Tokenizer: Sendable {
    /// One more than the highest token id, in the vocab or among the added
    /// tokens: the size an embedding table needs.
    public let vocabularySize: Int

    private let bpe: BPE
    private let addedTokens: AddedTokens
    private let addPrefixSpace: Bool
    private let addedTokenIDs: [String: Int]
    /// The bytes of token `id` are `tokenByteStorage[tokenOffsets[id]..<tokenOffsets[id + 1]]`.
    private let tokenByteStorage: [UInt8]
    private let tokenOffsets: [Int]

    /// Reads a `tokenizer.json` file.
    /// - Throws: `TokenizerError` naming the file path if it cannot be read,
    ///   is malformed, or asks for something not supported.
    public convenience init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError(source: url.path, "cannot read the file (\(error.localizedDescription))")
        }
        try self.init(jsonData: data, sourceName: url.path)
    }

    /// Reads the contents of a `tokenizer.json`.
    /// - Parameter sourceName: names the document in error messages.
    /// - Throws: `TokenizerError` if the document is malformed or asks for
    ///   something not supported.
    public convenience init(jsonData: Data, sourceName: String) throws {
        self.init(try TokenizerFileReader(source: sourceName).read([UInt8](jsonData)))
    }

    init(_ definition: TokenizerDefinition) {
        addPrefixSpace = definition.addPrefixSpace
        bpe = BPE(definition)
        addedTokens = AddedTokens(definition.addedTokens)
        addedTokenIDs = Dictionary(uniqueKeysWithValues: definition.addedTokens.map { ($0.content, $0.id) })
        let highestID = max(definition.vocab.values.max().map(Int.init) ?? -1, definition.addedTokens.map(\.id).max() ?? -1)
        vocabularySize = highestID + 1
        (tokenByteStorage, tokenOffsets) = Tokenizer.tokenBytesTable(definition, size: vocabularySize)
    }

    /// The token ids of `text`. Added tokens in the text (such as
    /// `<|endoftext|>`) become their ids; nothing else is added.
    public func encode(_ text: String) -> [Int] {
        var text = text
        return text.withUTF8 { encode(utf8: $0) }
    }

    /// The text of `ids`. Added and special tokens become their content (they
    /// are not skipped); unknown ids are skipped; bytes that do not form
    /// UTF-8 become U+FFFD.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            guard let range = byteRange(of: id) else { continue }
            bytes.append(contentsOf: tokenByteStorage[range])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The raw bytes of one token, which may be part of a UTF-8 character;
    /// empty for an unknown id.
    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard let range = byteRange(of: id) else { return [] }
        return Array(tokenByteStorage[range])
    }

    /// The id of an added token, such as `"<|endoftext|>"`, or nil if the
    /// file has no added token with exactly that content.
    public func id(ofAddedToken content: String) -> Int? {
        addedTokenIDs[content]
    }

    // MARK: Encoding

    private func encode(utf8 text: UnsafeBufferPointer<UInt8>) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(text.count / 3)
        var workspace = BPE.Workspace()
        for segment in addedTokens.split(text) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                let slice = UnsafeBufferPointer(rebasing: text[range])
                // The library adds the space to every stretch of text between
                // added tokens, not just to the start of the input.
                if addPrefixSpace, slice[0] != UInt8(ascii: " ") {
                    let spaced = [UInt8(ascii: " ")] + slice
                    spaced.withUnsafeBufferPointer { encodeText($0, into: &ids, workspace: &workspace) }
                } else {
                    encodeText(slice, into: &ids, workspace: &workspace)
                }
            }
        }
        return ids
    }

    private func encodeText(_ text: UnsafeBufferPointer<UInt8>, into ids: inout [Int], workspace: inout BPE.Workspace) {
        PreTokenizer.forEachPiece(in: text) { range in
            bpe.encode(UnsafeBufferPointer(rebasing: text[range]), into: &ids, workspace: &workspace)
        }
    }

    // MARK: Decoding

    private func byteRange(of id: Int) -> Range<Int>? {
        guard id >= 0, id < vocabularySize else { return nil }
        return tokenOffsets[id]..<tokenOffsets[id + 1]
    }

    /// Added tokens decode to their content. Vocab tokens decode through the
    /// byte-level map, or, like in the library, as their own UTF-8 if they
    /// hold a character outside it. Ids in neither are empty.
    private static func tokenBytesTable(_ definition: TokenizerDefinition, size: Int) -> ([UInt8], [Int]) {
        var bytesByID = [[UInt8]](repeating: [], count: size)
        for (token, id) in definition.vocab {
            bytesByID[Int(id)] = ByteLevel.bytes(ofToken: token) ?? Array(token.utf8)
        }
        for token in definition.addedTokens {
            bytesByID[token.id] = Array(token.content.utf8)
        }
        var storage: [UInt8] = []
        var offsets = [0]
        offsets.reserveCapacity(size + 1)
        for bytes in bytesByID {
            storage.append(contentsOf: bytes)
            offsets.append(storage.count)
        }
        return (storage, offsets)
    }
}

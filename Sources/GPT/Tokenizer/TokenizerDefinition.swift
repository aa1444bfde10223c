/// What a `tokenizer.json` asks for, after `TokenizerFileReader` has checked
/// that it is something this tokenizer reproduces exactly.
struct TokenizerDefinition {
    struct Merge {
        let left: Int32
        let right: Int32
        let result: Int32
    }

    struct AddedToken {
        let id: Int
        let content: String
        let lstrip: Bool
        let rstrip: Bool
        /// Matched in the second pass, after the tokens without it.
        let normalized: Bool
    }

    /// Token string (in byte-level characters) to id; ids are unique.
    var vocab: [String: Int32]
    /// In rank order. A pair may repeat; as in the library, its last rank counts.
    var merges: [Merge]
    var ignoreMerges: Bool
    var addPrefixSpace: Bool
    var addedTokens: [AddedToken]
}

extension Tokenizer {
    /// A token's own text, for showing it alone (log-probabilities, `/tokenize`):
    /// its bytes as UTF-8 when they form whole characters, else `bytes:` and
    /// each byte as `\xNN` (OpenAI's way of showing part of a character), e.g.
    /// `bytes:\xe2\x80` for the first two bytes of "…".
    public func piece(_ id: Int) -> String {
        let bytes = tokenBytes(id)
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return "bytes:" + bytes.map { "\\x" + ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

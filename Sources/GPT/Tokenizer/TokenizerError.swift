/// A tokenizer file that cannot be read, or that asks for something this
/// tokenizer does not do exactly like the Hugging Face `tokenizers` library.
///
/// The message names the file and the problem, for example
/// `tokenizer.json: model.type is "WordPiece"; only "BPE" is supported`.
public struct TokenizerError: Error, CustomStringConvertible {
    /// The whole message, starting with the file name.
    public let description: String

    init(source: String, _ problem: String) {
        self.description = "\(source): \(problem)"
    }
}

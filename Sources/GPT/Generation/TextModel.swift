import Foundation

/// A model and the tokenizer that belongs to it, loaded once and shared
/// by every generation (the CLI's single run or the server's many).
public final class TextModel: Sendable {
    public let model: Model
    public let tokenizer: Tokenizer
    public let checkpointPath: String
    /// Where the tokenizer came from: a tokenizer.json path, or the model file's metadata.
    public let tokenizerPath: String
    /// How the model is stored, e.g. "GGUF v3" or "llm.c v3".
    public let format: String
    /// The stored type of the model's weight matrices ("f32", "f16", "bf16", "q8_0", "q4_0").
    public let weightType: String
    /// Whether the weights were copied into transparent huge pages (see ``LoadedModel``).
    public let inHugePages: Bool

    /// Opens the model (a file or a Hugging Face folder, recognised from its
    /// content), reads the tokenizer and checks that they fit together.
    ///
    /// - Parameter tokenizerPath: a tokenizer.json; nil means the model's own
    ///   (a GGUF file's metadata, a Hugging Face folder's tokenizer.json), else
    ///   the tokenizer.json beside the model file.
    /// - Parameter hugePages: copy the weights into transparent huge pages
    ///   (faster decode) instead of reading them from the mapped file.
    public init(checkpointPath: String, tokenizerPath: String? = nil, hugePages: Bool = false) throws {
        let loaded = try LoadedModel(path: checkpointPath, hugePages: hugePages)
        let tokenizer: Tokenizer
        let source: String
        if let tokenizerPath {
            (tokenizer, source) = (try Tokenizer(contentsOf: URL(fileURLWithPath: tokenizerPath)), tokenizerPath)
        } else if let vocabulary = loaded.file.vocabulary {
            (tokenizer, source) = (try Tokenizer(vocabulary: vocabulary, sourceName: checkpointPath), "\(checkpointPath) (GGUF metadata)")
        } else {
            let beside = loaded.file.tokenizerFile
                ?? URL(fileURLWithPath: checkpointPath).deletingLastPathComponent().appendingPathComponent("tokenizer.json").path
            guard FileManager.default.fileExists(atPath: beside) else {
                throw TokenizerError(source: checkpointPath, "the model carries no tokenizer and there is no \(beside); give one with --tokenizer")
            }
            (tokenizer, source) = (try Tokenizer(contentsOf: URL(fileURLWithPath: beside)), beside)
        }
        let V = loaded.weights.config.vocabularySize
        guard tokenizer.vocabularySize <= V else {
            throw TokenizerError(source: source, "the tokenizer has \(tokenizer.vocabularySize) token ids but the model \(checkpointPath) has a vocabulary of \(V); they do not belong together")
        }
        self.model = Model(weights: loaded.weights)
        self.tokenizer = tokenizer
        self.checkpointPath = checkpointPath
        self.tokenizerPath = source
        self.format = loaded.formatDescription
        self.weightType = loaded.weightType
        self.inHugePages = loaded.inHugePages
    }

    public var config: GPTConfig { model.config }

    /// A generation from `prompt`; throws for an empty prompt or settings out of range.
    public func generator(prompt: String, settings: GenerationSettings,
                          cancellation: CancellationFlag = CancellationFlag()) throws -> TokenGenerator {
        try TokenGenerator(model: model, tokenizer: tokenizer, prompt: prompt, settings: settings, cancellation: cancellation)
    }
}

/// Finds the Shakespeare model that ships in the repository's `models/shakespeare/`.
public enum BundledModel {
    public static let directory = "models/shakespeare"

    /// The bundled model's folder: under the current directory, or above the running
    /// executable (so `.build/release/generate` and an installed image both find it).
    public static func locate() -> URL? {
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            var folder = executable.deletingLastPathComponent()
            for _ in 0..<5 {
                candidates.append(folder)
                folder = folder.deletingLastPathComponent()
            }
        }
        return candidates
            .map { $0.appendingPathComponent(directory) }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("gpt_checkpoint.bin").path) }
    }

    public static let checkpointFile = "gpt_checkpoint.bin"
    public static let tokenizerFile = "tokenizer.json"

    /// The files a command line tool loads: with a checkpoint given, it and the
    /// tokenizer given (nil: the model's own, see `TextModel`); else
    /// `gpt_checkpoint.bin` and `tokenizer.json` in the current directory, else
    /// the bundled model's (then `bundled` names its folder, for the tool to say so).
    public static func files(checkpoint: String?, tokenizer: String?) -> (checkpoint: String, tokenizer: String?, bundled: URL?) {
        if let checkpoint { return (checkpoint, tokenizer, nil) }
        let files = FileManager.default
        let tokenizerPath = tokenizer ?? tokenizerFile
        let useBundled = !files.fileExists(atPath: checkpointFile)
            || (tokenizer == nil && !files.fileExists(atPath: tokenizerPath))
        guard useBundled, let bundled = locate() else { return (checkpointFile, tokenizerPath, nil) }
        return (bundled.appendingPathComponent(checkpointFile).path,
                tokenizer ?? bundled.appendingPathComponent(tokenizerFile).path, bundled)
    }
}

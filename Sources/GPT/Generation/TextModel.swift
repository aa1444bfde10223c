import Foundation

/// A checkpoint and the tokenizer that belongs to it, loaded once and shared
/// by every generation (the CLI's single run or the server's many).
public final class TextModel: Sendable {
    public let model: Model
    public let tokenizer: Tokenizer
    public let checkpointPath: String
    public let tokenizerPath: String

    /// Maps the checkpoint, reads the tokenizer and checks that they fit together.
    public init(checkpointPath: String, tokenizerPath: String) throws {
        let checkpoint = try Checkpoint(path: checkpointPath)
        let tokenizer = try Tokenizer(contentsOf: URL(fileURLWithPath: tokenizerPath))
        let V = checkpoint.config.vocabularySize
        guard tokenizer.vocabularySize <= V else {
            throw TokenizerError(source: tokenizerPath, "the tokenizer has \(tokenizer.vocabularySize) token ids but the checkpoint \(checkpointPath) has a vocabulary of \(V); they do not belong together")
        }
        self.model = Model(checkpoint: checkpoint)
        self.tokenizer = tokenizer
        self.checkpointPath = checkpointPath
        self.tokenizerPath = tokenizerPath
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
}

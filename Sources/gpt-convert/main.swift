import ArgumentParser
import Foundation
import GPT
import ModelFiles

/// `gpt-convert`: reads a model in any supported format and writes it as GGUF
/// or as an llm.c checkpoint, with its weights in the chosen type.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt-convert",
        abstract: "Convert a GPT-2 model between GGUF, llm.c and Hugging Face files, and quantize it.",
        discussion: """
        IN is a GGUF file, an llm.c checkpoint or a Hugging Face folder (recognised from the content). \
        Matrices and embeddings are written in --type; norms and biases stay f32. q8_0 and q4_0 are GGUF's \
        block formats (32 weights per block, one f16 scale). llm.c files hold f32 (version 3) or bf16 (version 5).
        """
    )

    @Argument(help: "Model to read.") var input: String
    @Argument(help: "File to write.") var output: String
    @Option(help: "Weight type: \(TensorType.allCases.map(\.rawValue).joined(separator: ", ")).") var type: String
    @Option(help: "Output format: gguf or llmc.") var format = "gguf"
    @Option(help: "tokenizer.json to embed in a GGUF file (default: the model's own, or the tokenizer.json beside it).")
    var tokenizer: String?

    func validate() throws {
        guard TensorType(rawValue: type) != nil else {
            throw ValidationError("--type \(type) is not one of \(TensorType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard ModelConversion.OutputFormat(rawValue: format) != nil else {
            throw ValidationError("--format \(format) is not one of gguf, llmc")
        }
    }

    func run() throws {
        let format = ModelConversion.OutputFormat(rawValue: format)!
        do {
            let model = try LoadedModel(path: input)
            var vocabulary: GGUFVocabulary?
            if format == .gguf {
                if let tokenizer {
                    vocabulary = try GGUFVocabulary(tokenizerFile: tokenizer)
                } else if let own = model.file.vocabulary {
                    vocabulary = own
                } else {
                    let beside = model.file.tokenizerFile
                        ?? URL(fileURLWithPath: input).deletingLastPathComponent().appendingPathComponent("tokenizer.json").path
                    if FileManager.default.fileExists(atPath: beside) { vocabulary = try GGUFVocabulary(tokenizerFile: beside) }
                }
            }
            try ModelConversion.write(model, vocabulary: vocabulary, to: output, format: format, type: TensorType(rawValue: type)!)
            print("gpt-convert: wrote \(output) (\(format == .gguf ? "GGUF v3" : "llm.c"), \(type)) from \(input) (\(model.formatDescription), \(model.weightType))"
                + (format == .gguf && vocabulary == nil ? "; no tokenizer found to embed" : ""))
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(Data("gpt-convert: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

Convert.main()

import Foundation
import Testing

/// `gpt-convert` as a user runs it: the converted GGUF carries the tokenizer,
/// so `generate` needs no --tokenizer, and greedy text is the same in every
/// lossless form; usage errors name the flag.
@Suite final class ConvertCLITests {
    let folder: URL
    let checkpoint: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-convert-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        checkpoint = folder.appendingPathComponent("random.bin").path
        let made = try CLITests.run("gpt-random-model", ["--out", checkpoint, "--context", "64", "--vocab", "2100",
                                                         "--layers", "2", "--heads", "2", "--channels", "32", "--seed", "3"])
        #expect(made.status == 0, "\(made.stderr)")
    }

    /// Each test's files go with it.
    deinit { try? FileManager.default.removeItem(at: folder) }

    func greedy(_ arguments: [String]) throws -> String {
        let outcome = try CLITests.run("generate", arguments + ["--prompt", "To be, or not", "--num_tokens", "12", "--temp", "0"], in: folder)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return outcome.stdout
    }

    @Test func ggufCarriesTheTokenizerAndGeneratesTheSameText() throws {
        let gguf = folder.appendingPathComponent("model.gguf").path
        let converted = try CLITests.run("gpt-convert", [checkpoint, gguf, "--type", "f32", "--tokenizer", CLITests.tokenizer])
        #expect(converted.status == 0, "\(converted.stderr)")
        #expect(converted.stdout.contains("wrote \(gguf) (GGUF v3, f32)"))
        let reference = try greedy(["--ckpt", checkpoint, "--tokenizer", CLITests.tokenizer])
        #expect(try greedy(["--ckpt", gguf]) == reference)

        // An llm.c file to llm.c f32 again (version 3) is lossless too.
        let again = folder.appendingPathComponent("again.bin").path
        #expect(try CLITests.run("gpt-convert", [gguf, again, "--type", "f32", "--format", "llmc"]).status == 0)
        #expect(try greedy(["--ckpt", again, "--tokenizer", CLITests.tokenizer]) == reference)
        #expect(try Data(contentsOf: URL(fileURLWithPath: again)) == Data(contentsOf: URL(fileURLWithPath: checkpoint)))
    }

    @Test func badUsageNamesTheFlag() throws {
        let badType = try CLITests.run("gpt-convert", [checkpoint, "out.gguf", "--type", "q5_k"], in: folder)
        #expect(badType.status == 64 || badType.status == 2)
        #expect(badType.stderr.contains("--type q5_k is not one of f32, f16, bf16, q8_0, q4_0"))
        let quantizedLlmc = try CLITests.run("gpt-convert", [checkpoint, "out.bin", "--type", "q8_0", "--format", "llmc"], in: folder)
        #expect(quantizedLlmc.status == 1)
        #expect(quantizedLlmc.stderr.contains("llm.c checkpoints hold f32 (version 3) or bf16 (version 5)"))
        let missing = try CLITests.run("gpt-convert", ["nothing.gguf", "out.gguf", "--type", "f16"], in: folder)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nothing.gguf: cannot open"))
    }
}

import Foundation
import Testing

/// The `generate`, `gpt-random-model` and `gpt-bench` executables, run as a user would run them.
@Suite final class CLITests {
    /// The build's products folder: the test runner sits beside the executables.
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("GPTTests/Fixtures")
    static let tokenizer = fixtures.appendingPathComponent("tokenizer/gpt2ish.json").path
    let folder: URL
    let checkpoint: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-cli-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        checkpoint = folder.appendingPathComponent("random.bin").path
        let made = try Self.run("gpt-random-model", ["--out", checkpoint, "--context", "64", "--vocab", "2100",
                                                     "--layers", "2", "--heads", "2", "--channels", "32", "--seed", "3"])
        #expect(made.status == 0, "\(made.stderr)")
    }

    /// Each test's files go with it.
    deinit { try? FileManager.default.removeItem(at: folder) }

    struct Outcome { let status: Int32; let stdout: String; let stderr: String }

    static func run(_ tool: String, _ arguments: [String], in directory: URL? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = products.appendingPathComponent(tool)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    func generate(_ arguments: [String]) throws -> Outcome {
        try Self.run("generate", ["--ckpt", checkpoint, "--tokenizer", Self.tokenizer] + arguments, in: folder)
    }

    @Test func printsPromptThenContinuation() throws {
        let outcome = try generate(["--prompt", "To be, or not to be:", "--num_tokens", "20", "--seed", "5"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.hasPrefix("To be, or not to be:"))
        #expect(outcome.stdout.count > "To be, or not to be:".count)
        #expect(outcome.stderr.contains("20 tokens (length)"))
    }

    @Test func helpExitsZeroAndListsTheFlags() throws {
        let outcome = try Self.run("generate", ["--help"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout.contains("--num_tokens") && outcome.stdout.contains("--delay_ms"))
    }

    /// --stop ends the text before the first match, which is not printed.
    @Test func stopStringsEndTheText() throws {
        let prompt = "To be, or not to be:"
        let free = try generate(["--prompt", prompt, "--num_tokens", "30", "--seed", "5", "--stream", "false"])
        let continuation = String(free.stdout.dropFirst(prompt.count)).trimmingCharacters(in: .newlines)
        try #require(free.status == 0 && continuation.count >= 8, "\(free.stderr)")
        let stop = String(continuation.dropFirst(4).prefix(3))
        let stopped = try generate(["--prompt", prompt, "--num_tokens", "30", "--seed", "5", "--stream", "false", "--stop", stop])
        #expect(stopped.status == 0, "\(stopped.stderr)")
        let expected = prompt + continuation[..<continuation.range(of: stop)!.lowerBound]
        #expect(stopped.stdout.trimmingCharacters(in: .newlines) == expected)
        #expect(stopped.stderr.contains("(stop)"), "\(stopped.stderr)")
    }

    /// Negative numbers are values, not flags: the documented default can be spelled out.
    @Test func negativeNumbersAreValues() throws {
        let outcome = try generate(["--prompt", "hi", "--eos_id", "-1", "--num_tokens", "3", "--seed", "1"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
    }

    @Test func seedMakesRunsRepeatableInBothModes() throws {
        let streamed = try generate(["--prompt", "My kingdom for a", "--seed", "42", "--stream", "true"])
        let whole = try generate(["--prompt", "My kingdom for a", "--seed", "42", "--stream=false"])
        let other = try generate(["--prompt", "My kingdom for a", "--seed", "43", "--stream", "false"])
        #expect(streamed.status == 0 && whole.status == 0)
        #expect(streamed.stdout == whole.stdout)
        #expect(streamed.stdout != other.stdout)
    }

    /// With --stream true the prompt and first tokens are on stdout while generation
    /// still runs; with --stream false nothing after the prompt comes before the end.
    @Test func streamsTokensAsTheyAreProduced() throws {
        let process = Process()
        process.executableURL = Self.products.appendingPathComponent("generate")
        process.arguments = ["--ckpt", checkpoint, "--tokenizer", Self.tokenizer, "--prompt", "Hello",
                             "--num_tokens", "8", "--delay_ms", "400", "--seed", "1"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        var received = Data()
        while received.count <= "Hello".utf8.count {  // prompt plus at least one more byte
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            received += chunk
        }
        // 8 tokens 400 ms apart: the process cannot have finished after the first one.
        #expect(process.isRunning)
        process.terminate()
        process.waitUntilExit()
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("Hello"))
    }

    @Test(arguments: [
        (["--num_tokens", "5"], "--prompt"),
        (["--prompt", "hi", "--num_tokens", "-1"], "--num_tokens"),
        (["--prompt", "hi", "--temp", "-0.1"], "--temp must be a finite number >= 0"),
        (["--prompt", "hi", "--eos_id", "-2"], "--eos_id must be -1 (none) or a token id"),
        (["--prompt", "hi", "--eos_id", "2100"], "--eos_id must be -1 (none) or a token id from 0 to 2099"),
        (["--prompt", "hi", "--top_k", "-3"], "--top_k"),
        (["--prompt", "hi", "--max_seq_len", "0"], "--max_seq_len"),
        (["--prompt", "hi", "--max_seq_len", "65"], "--max_seq_len must be between 1 and the model's context length 64"),
        (["--prompt", "hi", "--top_p", "0"], "--top_p"),
        (["--prompt", "hi", "--stream", "maybe"], "stream"),
        (["--prompt", "hi", "--frobnicate"], "--frobnicate"),
        (["--prompt", ""], "--prompt must not be empty"),
    ])
    func badUsageExitsTwo(case: ([String], String)) throws {
        let outcome = try generate(`case`.0)
        #expect(outcome.status == 2, "\(`case`.0): \(outcome.stderr)")
        #expect(outcome.stderr.contains(`case`.1), "\(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
    }

    @Test func missingOrCorruptFilesExitOne() throws {
        let missing = try Self.run("generate", ["--prompt", "hi", "--ckpt", folder.appendingPathComponent("none.bin").path,
                                                "--tokenizer", Self.tokenizer], in: folder)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("none.bin: cannot open: No such file or directory"))

        let corrupt = folder.appendingPathComponent("corrupt.bin")
        try Data(repeating: 7, count: 2048).write(to: corrupt)
        let bad = try Self.run("generate", ["--prompt", "hi", "--ckpt", corrupt.path, "--tokenizer", Self.tokenizer], in: folder)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("corrupt.bin: not a model file this project reads"))

        let badTokenizer = folder.appendingPathComponent("tokenizer.json")
        try Data("{\"model\": 3}".utf8).write(to: badTokenizer)
        let tok = try Self.run("generate", ["--prompt", "hi", "--ckpt", checkpoint, "--tokenizer", badTokenizer.path], in: folder)
        #expect(tok.status == 1)
        #expect(tok.stderr.contains("tokenizer.json"))
    }

    /// With no --ckpt and no gpt_checkpoint.bin here, the default names are looked for
    /// and, failing the bundled model, the error names the missing file.
    @Test func defaultFilesAreLookedForInTheCurrentDirectory() throws {
        try FileManager.default.copyItem(atPath: checkpoint, toPath: folder.appendingPathComponent("gpt_checkpoint.bin").path)
        try FileManager.default.copyItem(atPath: Self.tokenizer, toPath: folder.appendingPathComponent("tokenizer.json").path)
        let outcome = try Self.run("generate", ["--prompt", "hi", "--num_tokens", "3"], in: folder)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("bundled"))
    }

    /// With no model files here and no flags, the model bundled in the repository
    /// (found above the executable) is used, and stderr says so.
    @Test func fallsBackToTheBundledModel() throws {
        let outcome = try Self.run("generate", ["--prompt", "My kingdom for a", "--num_tokens", "5", "--seed", "2"], in: folder)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("using the bundled model in") && outcome.stderr.contains("models/shakespeare"))
        #expect(outcome.stdout.hasPrefix("My kingdom for a"))
    }

    /// gpt-bench reports the kernels' instruction set: the CPU's best by
    /// default and for a higher one asked, the portable C when asked.
    @Test func benchReportsTheInstructionSetItRan() throws {
        func bench(_ extra: [String]) throws -> [String: Any] {
            let outcome = try Self.run("gpt-bench", ["--model", checkpoint, "--prompt-tokens", "8", "--decode-tokens", "4",
                                                     "--repetitions", "1", "--threads", "1", "--json"] + extra)
            #expect(outcome.status == 0, "\(outcome.stderr)")
            return try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any] ?? [:]
        }
        let best = try bench([])["instruction_set"] as? String
        #expect(["portable", "avx2", "avx512"].contains(best ?? ""), "\(best ?? "none")")
        #expect(try bench(["--isa", "avx512"])["instruction_set"] as? String == best)
        let portable = try bench(["--isa", "portable"])
        #expect(portable["instruction_set"] as? String == "portable" && portable["weight_type"] as? String == "f32")
        let refused = try Self.run("gpt-bench", ["--model", checkpoint, "--isa", "sse4"])
        #expect(refused.status != 0 && refused.stderr.contains("unknown --isa sse4; choose one of portable, avx2, avx512"))
        // --huge-pages copies the weights where the kernel offers transparent huge pages (read here from sysfs).
        #expect(try bench([])["huge_pages"] as? Bool == false)
        let offered = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8))
            .map { !$0.contains("[never]") } ?? false
        #expect(try bench(["--huge-pages"])["huge_pages"] as? Bool == offered)
    }

    /// gpt-bench --sequences decodes several sequences a step each per pass,
    /// reports how many and says so in its table; 0 is refused.
    @Test func benchDecodesSeveralSequencesTogether() throws {
        let arguments = ["--model", checkpoint, "--prompt-tokens", "8", "--decode-tokens", "4", "--repetitions", "1",
                         "--threads", "1", "--sequences", "5"]
        let outcome = try Self.run("gpt-bench", arguments + ["--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(result["decode_sequences"] as? Int == 5)
        #expect((result["decode_tokens_per_s"] as? Double ?? 0) > 0)
        let table = try Self.run("gpt-bench", arguments)
        #expect(table.status == 0 && table.stdout.contains("decode: 5 sequences together, total tokens/s"), "\(table.stdout)")
        let refused = try Self.run("gpt-bench", ["--model", checkpoint, "--sequences", "0"])
        #expect(refused.status != 0 && refused.stderr.contains("--sequences must be in 1...64"))
    }

    @Test func randomModelToolRefusesBadShapes() throws {
        let outcome = try Self.run("gpt-random-model", ["--out", folder.appendingPathComponent("x.bin").path, "--context", "8",
                                                        "--vocab", "10", "--layers", "1", "--heads", "3", "--channels", "8"])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("multiple of --heads"))
    }
}

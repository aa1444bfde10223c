import Foundation

/// Runs python3 with the packages the format fixtures need (`gguf`,
/// `safetensors`, `numpy`, `tokenizers`; `scripts/setup.sh --test` installs them).
enum Python {
    static let isAvailable: Bool = (try? run(["-c", "import gguf, safetensors, numpy, tokenizers"]).status) == 0

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts")

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Runs a script under scripts/ and returns its standard output.
    static func script(_ name: String, _ arguments: [String]) throws -> String {
        let result = try run([scripts.appendingPathComponent(name).path] + arguments)
        guard result.status == 0 else { throw Failure(description: "\(name) failed: \(result.stderr)") }
        return result.stdout
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

/// The fixtures `scripts/make_format_fixtures.py` writes with the `gguf` and
/// `safetensors` packages, and the float64 reference's results on them.
/// Written once per test run into a temporary folder, removed when the run ends.
enum FormatFixtures {
    struct Expectation: Decodable {
        let prompt: [Int]
        let greedy: [Int]
        let logits_last: [Double]
        /// Last logits of prompt + greedy (17 tokens, the prefill path); untied fixtures only.
        let logits_long: [Double]?
    }

    struct TokenizerCase: Decodable {
        let text: String
        let ids: [Int]
    }

    static let folder: Result<URL, Error> = Result {
        atexit { try? FileManager.default.removeItem(at: FormatFixtures.fixturesFolder) }
        _ = try Python.script("make_format_fixtures.py", [fixturesFolder.path])
        return fixturesFolder
    }
    static var fixturesFolder: URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("gpt-format-fixtures-\(getpid())")
    }

    static func path(_ name: String) throws -> String { try folder.get().appendingPathComponent(name).path }

    static func expectations() throws -> [String: Expectation] {
        let data = try Data(contentsOf: try folder.get().appendingPathComponent("expected.json"))
        var object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        object["tokenizer_cases"] = nil
        return try JSONDecoder().decode([String: Expectation].self, from: JSONSerialization.data(withJSONObject: object))
    }

    static func tokenizerCases() throws -> [TokenizerCase] {
        struct File: Decodable { let tokenizer_cases: [TokenizerCase] }
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: try folder.get().appendingPathComponent("expected.json"))).tokenizer_cases
    }
}

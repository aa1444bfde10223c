import Foundation
import GPT
import Testing

/// `gpt-train` run as a user runs it, on a tiny corpus and model.
@Suite final class TrainCLITests {
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-train-tests-\(UUID().uuidString)")
        let data = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let lines = ["To be, or not to be, that is the question.", "My kingdom for a horse!",
                     "Now is the winter of our discontent.", "All the world's a stage, and all the men and women merely players."]
        for (k, name) in ["a.txt", "b.txt"].enumerated() {
            let text = (0..<40).map { lines[($0 + k) % lines.count] }.joined(separator: "\n")
            try Data(text.utf8).write(to: data.appendingPathComponent(name))
        }
        try Data(lines.reversed().joined(separator: "\n").utf8).write(to: folder.appendingPathComponent("val.txt"))
    }

    /// Each test's files go with it.
    deinit { try? FileManager.default.removeItem(at: folder) }

    var dataPath: String { folder.appendingPathComponent("data").path }
    var valPath: String { folder.appendingPathComponent("val.txt").path }
    func out(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func tinyRun(_ out: String, steps: Int, extra: [String] = []) -> [String] {
        ["--data-path", dataPath, "--val-path", valPath, "--vocab-size", "300", "--dim", "32", "--heads", "2",
         "--layers", "1", "--seq", "16", "--batch", "2", "--steps", String(steps), "--log-every", "1",
         "--eval-every", "3", "--eval-windows", "4", "--out", out] + extra
    }

    struct Outcome { let status: Int32; let stdout: String; let stderr: String }

    /// Runs gpt-train; `interruptAfter` sends SIGINT once stdout contains that text.
    static func run(_ arguments: [String], interruptAfter marker: String? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = products.appendingPathComponent("gpt-train")
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var stdout = Data()
        if let marker {
            while !String(decoding: stdout, as: UTF8.self).contains(marker) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                stdout += chunk
            }
            process.interrupt()
        }
        stdout += out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func trainsAndWritesAModelTheEngineLoads() throws {
        let result = try Self.run(tinyRun(out("run"), steps: 6))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("step     6/6 | loss "))
        #expect(result.stdout.contains("| val "))
        #expect(result.stdout.contains("tok/s") && result.stdout.contains("GFLOP/s") && result.stdout.contains("ETA"))
        #expect(result.stdout.contains("bits per character"))
        let checkpoint = try Checkpoint(path: out("run") + "/gpt_checkpoint.bin")
        let tokenizer = try Tokenizer(contentsOf: URL(fileURLWithPath: out("run") + "/tokenizer.json"))
        #expect(checkpoint.config == GPTConfig(maxT: 16, vocabularySize: tokenizer.vocabularySize, layers: 1, heads: 2, channels: 32))
        #expect(FileManager.default.fileExists(atPath: out("run") + "/optimizer.bin"))
        let model = Model(checkpoint: checkpoint)
        let logits = model.forward(tokenizer.encode("My kingdom"), state: model.makeState())
        #expect(logits.count == tokenizer.vocabularySize && logits.allSatisfy(\.isFinite))
    }

    @Test func interruptedThenResumedEqualsUninterrupted() throws {
        let straight = try Self.run(tinyRun(out("straight"), steps: 300))
        #expect(straight.status == 0, "\(straight.stderr)")
        let interrupted = try Self.run(tinyRun(out("resumed"), steps: 300), interruptAfter: "step     2/")
        #expect(interrupted.status == 0, "\(interrupted.stderr)")
        #expect(interrupted.stdout.contains("stopped at step"), "the run finished before the signal arrived")
        let resumed = try Self.run(["--data-path", dataPath, "--val-path", valPath, "--steps", "300", "--batch", "2",
                                    "--log-every", "50", "--eval-every", "0", "--out", out("resumed"), "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming at step"))
        let a = FileManager.default.contents(atPath: out("straight") + "/gpt_checkpoint.bin")
        let b = FileManager.default.contents(atPath: out("resumed") + "/gpt_checkpoint.bin")
        #expect(a != nil && a == b, "the resumed run must end with exactly the weights of the uninterrupted one")
    }

    @Test func givenTokenizerIsUsedAndCopiedBesideTheCheckpoint() throws {
        let first = try Self.run(tinyRun(out("first"), steps: 1))
        #expect(first.status == 0, "\(first.stderr)")
        let given = out("first") + "/tokenizer.json"
        let second = try Self.run(tinyRun(out("second"), steps: 1, extra: ["--tokenizer", given]))
        #expect(second.status == 0, "\(second.stderr)")
        #expect(!second.stdout.contains("tokenizer: trained"))
        #expect(FileManager.default.contents(atPath: out("second") + "/tokenizer.json") == FileManager.default.contents(atPath: given))
    }

    @Test func badUsageExitsTwoAndBadFilesExitOne() throws {
        let heads = try Self.run(tinyRun(out("bad"), steps: 1, extra: ["--heads", "3"]))
        #expect(heads.status == 2 && heads.stderr.contains("--heads"), "\(heads.stderr)")
        let help = try Self.run(["--help"])
        #expect(help.status == 0 && help.stdout.contains("--data-path") && help.stdout.contains("--resume"), "\(help.stderr)")
        let missingFlag = try Self.run(["--steps", "3"])
        #expect(missingFlag.status == 2 && missingFlag.stderr.contains("--data-path"))
        let missingData = try Self.run(["--data-path", out("nowhere"), "--out", out("bad")])
        #expect(missingData.status == 1 && missingData.stderr.contains("no such file"), "\(missingData.stderr)")
        let noRun = try Self.run(["--data-path", dataPath, "--out", out("empty"), "--resume"])
        #expect(noRun.status == 1 && noRun.stderr.contains("cannot resume"), "\(noRun.stderr)")
        let otherShape = try Self.run(tinyRun(out("shape"), steps: 1))
        #expect(otherShape.status == 0)
        let conflicting = try Self.run(["--data-path", dataPath, "--out", out("shape"), "--resume", "--dim", "64"])
        #expect(conflicting.status == 2 && conflicting.stderr.contains("--dim"), "\(conflicting.stderr)")
    }
}

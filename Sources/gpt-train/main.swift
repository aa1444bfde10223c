import ArgumentParser
import Foundation
import Training

// Exit statuses: 0 success (also after Ctrl-C, once the checkpoint is saved),
// 1 a runtime failure (missing or bad files), 2 bad usage (ArgumentParser alone would use 64).
do {
    var command = try GPTTrain.parseAsRoot()
    // `--help` parses to ArgumentParser's own help command, not to GPTTrain.
    if let train = command as? GPTTrain { try train.run() } else { try command.run() }
} catch let failure as TrainingError {
    FileHandle.standardError.write(Data("gpt-train: error: \(failure.description)\n".utf8))
    exit(1)
} catch {
    if GPTTrain.exitCode(for: error) == .success {  // --help
        print(GPTTrain.fullMessage(for: error))
        exit(0)
    }
    FileHandle.standardError.write(Data((GPTTrain.fullMessage(for: error) + "\n").utf8))
    exit(2)
}

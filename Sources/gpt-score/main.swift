import ArgumentParser
import Foundation

// Exit statuses as for `generate`: 0 success, 1 a runtime failure (missing or
// unreadable files), 2 bad usage.
do {
    var command = try GPTScore.parseAsRoot()
    try command.run()
} catch let failure as RuntimeFailure {
    printError("gpt-score: error: \(failure.message)")
    exit(1)
} catch {
    if GPTScore.exitCode(for: error) == .success {  // --help
        print(GPTScore.fullMessage(for: error))
        exit(0)
    }
    printError(GPTScore.fullMessage(for: error))
    exit(2)
}

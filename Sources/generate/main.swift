import ArgumentParser
import Foundation

// Exit statuses: 0 success, 1 a runtime failure (missing or corrupt files),
// 2 bad usage (as most Unix tools; ArgumentParser alone would use 64).
do {
    var command = try Generate.parseAsRoot()
    // `--help` parses to ArgumentParser's own help command, not to Generate.
    if let generate = command as? Generate { try generate.run() } else { try command.run() }
} catch let failure as RuntimeFailure {
    printError("generate: error: \(failure.message)")
    exit(1)
} catch {
    if Generate.exitCode(for: error) == .success {  // --help
        print(Generate.fullMessage(for: error))
        exit(0)
    }
    printError(Generate.fullMessage(for: error))
    exit(2)
}

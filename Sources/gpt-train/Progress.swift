import Foundation

/// Output of the trainer: progress on stdout (flushed at once, so a pipe or
/// a log file shows it live), notices on stderr.
enum Console {
    static func say(_ line: String) {
        print(line)
        fflush(nil)  // all C streams: print writes through stdout's buffer
    }

    /// "1h02m", "4m05s", "12s".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}

/// Tokens per second over the steps since the last progress line; evaluation
/// and checkpoint time are left out, so the rate is the training speed.
struct ThroughputMeter {
    private var seconds: Double = 0
    private var tokens = 0
    private var steps = 0
    /// Mean seconds per step of the last window, for the ETA.
    private(set) var secondsPerStep: Double = .nan

    mutating func record(seconds: Double, tokens: Int) {
        self.seconds += seconds
        self.tokens += tokens
        steps += 1
    }

    /// Tokens per second since the last call, and starts a new window.
    mutating func take() -> Double {
        defer { (seconds, tokens, steps) = (0, 0, 0) }
        guard steps > 0, seconds > 0 else { return .nan }
        secondsPerStep = seconds / Double(steps)
        return Double(tokens) / seconds
    }
}

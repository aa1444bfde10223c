import Foundation

/// Busy-looping processes that share the CPU with the benchmark, as other
/// tenants of a shared host or a Kubernetes node do. Each is a shell loop
/// that ends by itself once the benchmark's process is gone, so a benchmark
/// that dies leaves nothing spinning behind.
final class BusyNeighbours {
    private var processes: [Process] = []

    init(count: Int) throws {
        let parent = ProcessInfo.processInfo.processIdentifier
        for _ in 0..<count {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "while kill -0 \(parent) 2>/dev/null; do :; done"]
            try process.run()
            processes.append(process)
        }
    }

    func stop() {
        for process in processes where process.isRunning { process.terminate() }
        for process in processes { process.waitUntilExit() }
        processes = []
    }

    deinit { stop() }
}

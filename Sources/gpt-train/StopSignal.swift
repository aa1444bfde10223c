import Dispatch
import Foundation
import Synchronization

/// Turns SIGINT (Ctrl-C) and SIGTERM into a request that the training loop
/// sees between steps, so it can finish the step and save before exiting.
/// A second signal exits at once, without saving.
final class StopSignal: @unchecked Sendable {  // `sources` is written only in init
    private let received = Atomic<Int>(0)
    private var sources: [any DispatchSourceSignal] = []

    /// Its own queue: the global queue's few threads can all be busy.
    private let queue = DispatchQueue(label: "gpt-train.signals")

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)  // the dispatch source, not the default action, handles it
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [unowned self] in self.receive() }
            source.resume()
            sources.append(source)
        }
    }

    /// True once a signal has arrived.
    var isRequested: Bool { received.load(ordering: .relaxed) > 0 }

    private func receive() {
        let count = received.add(1, ordering: .relaxed).newValue
        if count == 1 {
            FileHandle.standardError.write(Data("\nstopping: finishing this step, then saving (signal again to quit without saving)\n".utf8))
        } else {
            FileHandle.standardError.write(Data("\nquitting without saving\n".utf8))
            exit(130)
        }
    }
}

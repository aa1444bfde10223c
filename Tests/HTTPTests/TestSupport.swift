import Foundation
import Testing
@testable import HTTP

/// A one-shot signal between test code and server-side code.
final class Gate: @unchecked Sendable {
    private let condition = NSCondition()
    private var isOpen = false

    func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }

    /// True if opened within `timeout` seconds.
    @discardableResult
    func wait(timeout: Double = 5) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !isOpen {
            if !condition.wait(until: deadline) { return isOpen }
        }
        return true
    }
}

/// A thread-safe value box for results reported from server threads.
final class Box<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }

    func update(_ change: (inout Value) -> Void) {
        lock.withLock { change(&stored) }
    }
}

/// Holds a weak reference, to check that the server frees what it retained.
final class WeakBox<Object: AnyObject>: @unchecked Sendable {
    private let lock = NSLock()
    private weak var stored: Object?

    var object: Object? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

func makeServer(
    limits: ServerLimits = ServerLimits(),
    handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
) throws -> HTTPServer {
    try HTTPServer(host: "127.0.0.1", port: 0, limits: limits, handler: handler)
}

/// User plus system CPU seconds so far of each live thread of this process
/// whose name is `name`, by thread id. Per thread rather than per process
/// because other suites run in parallel and burn CPU of their own.
func cpuSecondsByThread(named name: String) -> [Int: Double] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    var result: [Int: Double] = [:]
    for task in tasks {
        guard let id = Int(task),
              let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
              comm.trimmingCharacters(in: .newlines) == name,
              let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
              let afterName = stat.range(of: ") ", options: .backwards)
        else { continue }
        // After "pid (comm) ": state is field 3, utime 14 and stime 15.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
        result[id] = (user + system) / ticksPerSecond
    }
    return result
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// Parent of all suites, run one test at a time: the tests block their
/// thread on sockets and gates, and on a 2-core machine the cooperative pool
/// has only 2 threads, which parallel blocking tests would starve, leaving
/// none to run the server's async handler Tasks.
@Suite(.serialized) struct HTTPServerTests {}

import Foundation
import GPT
import HTTPTestSupport

/// A real `gpt-server` process on an ephemeral loopback port, serving a small
/// random model with the fixture tokenizer.
final class ServerProcess {
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()
    static let tokenizer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("GPTTests/Fixtures/tokenizer/gpt2ish.json").path

    /// A random model sized to the fixture tokenizer, written once per test run and removed when the run ends.
    static let checkpoint: String = {
        let config = GPTConfig(maxT: 256, vocabularySize: 2100, layers: 2, heads: 2, channels: 64)
        try! CheckpointWriter.write(config: config, parameters: CheckpointWriter.randomParameters(config: config, seed: 11),
                                    to: checkpointPath)
        atexit { try? FileManager.default.removeItem(atPath: ServerProcess.checkpointPath) }
        return checkpointPath
    }()
    static var checkpointPath: String {
        FileManager.default.temporaryDirectory.appendingPathComponent("gpt-server-tests-\(getpid()).bin").path
    }

    let process = Process()
    let port: Int
    private let errorPipe = Pipe()
    private let outputPipe = Pipe()

    /// Starts the server with `settings` (`--set` overrides) and waits for its listening line.
    init(_ settings: [String] = [], checkpoint: String = ServerProcess.checkpoint, extra: [String] = []) throws {
        process.executableURL = Self.products.appendingPathComponent("gpt-server")
        process.arguments = ["--port", "0", "--ckpt", checkpoint, "--tokenizer", Self.tokenizer]
            + settings.flatMap { ["--set", $0] } + extra
        process.standardOutput = outputPipe
        process.standardError = errorPipe
        try process.run()
        var output = ""
        while !output.contains("\n") {
            let data = outputPipe.fileHandleForReading.availableData
            if data.isEmpty {
                let log = String(decoding: errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                throw ClientError("gpt-server exited before listening: \(log)")
            }
            output += String(decoding: data, as: UTF8.self)
        }
        guard let range = output.range(of: "http://127.0.0.1:"),
              let port = Int(output[range.upperBound...].prefix { $0.isNumber }) else {
            throw ClientError("no port in \(output)")
        }
        self.port = port
    }

    deinit { stop() }

    /// SIGTERM, then SIGKILL if it has not exited within `timeout` seconds: a test never hangs on it.
    func stop(timeout: Double = 10) {
        guard process.isRunning else { return }
        process.terminate()
        if !waitForExit(timeout: timeout) {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// True if the process exited within `timeout` seconds. An exited
    /// process counts at once, before Foundation has reaped it: its
    /// monitoring runs on a Dispatch queue, which on a loaded machine, with
    /// other tests holding threads, can take seconds to get one.
    func waitForExit(timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !hasExited && Date() < deadline { usleep(20_000) }
        guard hasExited else { return false }
        process.waitUntilExit()
        return true
    }

    /// The exit status if the process exits within `timeout` seconds; else
    /// nil, after SIGKILL, so that a failing test goes on with no live
    /// server (and its log can be read to the end).
    func exitStatus(within timeout: Double) -> Int32? {
        guard waitForExit(timeout: timeout) else {
            stop(timeout: 0)
            return nil
        }
        return process.terminationStatus
    }

    /// Whether the process has ended: gone, or a zombie not yet reaped.
    private var hasExited: Bool {
        guard process.isRunning else { return true }
        let pid = process.processIdentifier
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return kill(pid, 0) != 0 }
        // The state is the field after the command name's closing parenthesis.
        return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }

    /// stderr so far (the log), once the process has exited.
    var logText: String {
        String(decoding: errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// A client connected to this server.
    func connect() throws -> RawClient { try RawClient(port: port) }

    /// Sends a JSON POST to /generate.
    func generate(_ json: String, accept: String? = nil, on client: RawClient? = nil) throws -> RawClient {
        let client = try client ?? connect()
        var headers = ["Content-Type: application/json"]
        if let accept { headers.append("Accept: \(accept)") }
        try client.request("POST", "/generate", headers: headers, body: json)
        return client
    }

    /// A whole response: status, headers and body (chunked or not).
    func roundTrip(_ method: String, _ path: String, headers: [String] = [], body: String? = nil) throws -> (ResponseHead, String) {
        let client = try connect()
        defer { client.close() }
        try client.request(method, path, headers: headers, body: body)
        return try Self.readResponse(client)
    }

    static func readResponse(_ client: RawClient, timeout: Double = 30) throws -> (ResponseHead, String) {
        let head = try client.readHead(timeout: timeout)
        let body: [UInt8]
        if head.headers["transfer-encoding"] == "chunked" {
            body = try client.readChunkedBody(timeout: timeout)
        } else {
            body = try client.read(count: Int(head.headers["content-length"] ?? "0")!, timeout: timeout)
        }
        return (head, String(decoding: body, as: UTF8.self))
    }

    /// GET /health's counts.
    func load() throws -> (active: Int, queued: Int) {
        let (_, body) = try roundTrip("GET", "/health")
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
        return (object["active"] as! Int, object["queued"] as! Int)
    }
}

/// Reads NDJSON objects off a chunked stream, one line at a time.
final class LineReader {
    let client: RawClient
    private var pending = ""
    private(set) var ended = false

    init(_ client: RawClient) { self.client = client }

    /// The next JSON object, or nil at the end of the body.
    func next(timeout: Double = 30) throws -> [String: Any]? {
        while !pending.contains("\n") {
            guard let chunk = try client.readChunk(timeout: timeout) else {
                ended = true
                return nil
            }
            pending += String(decoding: chunk, as: UTF8.self)
        }
        let line = pending[..<pending.firstIndex(of: "\n")!]
        pending = String(pending[pending.index(after: pending.firstIndex(of: "\n")!)...])
        return try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }

    /// Token objects until the final one; returns (ids, text, final object).
    func readAll(timeout: Double = 30) throws -> (ids: [Int], text: String, done: [String: Any]) {
        var ids: [Int] = []
        var text = ""
        while let object = try next(timeout: timeout) {
            if object["done"] as? Bool == true { return (ids, text, object) }
            if let id = object["id"] as? Int { ids.append(id) }
            text += object["text"] as? String ?? ""
        }
        throw ClientError("stream ended without a done object")
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
func eventually(timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

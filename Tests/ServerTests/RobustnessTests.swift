import Foundation
import GPT
import HTTPTestSupport
import Testing

/// The server under clients that misbehave or never finish: shutdown always
/// ends, stalled and overlong requests give their slots back, one client
/// meets the queue's 503 rather than a dropped connection, a half-close is
/// answered in full, and start-up refuses files it cannot read safely.
@Suite(.serialized) struct RobustnessTests {
    /// 20 shutdowns with generations running, one client reading and one that
    /// stopped reading: each ends in bounded time, and the reader gets a
    /// proper last line saying it was cancelled.
    @Test func shutdownAlwaysEnds() throws {
        for round in 0..<20 {
            let server = try ServerProcess(["drain_timeout_seconds=1", "max_num_tokens=100000"])
            let body = #"{"prompt": "A", "num_tokens": 100000, "delay_ms": 10}"#
            let reader = LineReader(try server.generate(body, accept: "application/x-ndjson"))
            let stalled = try RawClient(port: server.port, receiveBuffer: 2048)
            _ = try server.generate(body, accept: "application/x-ndjson", on: stalled)
            _ = try reader.client.readHead()
            #expect(try eventually { try server.load().active == 2 })
            kill(server.process.processIdentifier, SIGTERM)
            let rest = try reader.readAll()
            #expect(rest.done["finish_reason"] as? String == "cancelled", "round \(round)")
            // Generous: only "does not hang" is asserted (drain 1 s + at most 5 s of grace).
            let status = server.exitStatus(within: 15)
            #expect(status == 0, "round \(round): \(status.map { "exit status \($0)" } ?? "still running after 15 s")")
            let log = server.logText
            #expect(log.contains("drain timeout: cancelling the generations still running"), "\(log)")
            #expect(log.contains("stopped"))
        }
    }

    /// A client that stops reading frees its slot once its bytes have waited
    /// write_timeout_seconds, with a log line and a metric.
    @Test func aStalledStreamIsCancelled() throws {
        // Small buffers everywhere (and SSE's longer lines), so that they fill soon.
        let server = try ServerProcess(["write_timeout_seconds=1", "max_num_tokens=100000", "connection_memory_bytes=4096"])
        let client = try RawClient(port: server.port, receiveBuffer: 2048)
        _ = try server.generate(#"{"prompt": "A", "num_tokens": 100000}"#, accept: "text/event-stream", on: client)
        #expect(try eventually { try server.load().active == 1 })
        // The buffers fill first, at the test model's pace (slow in a debug build on a busy machine).
        var freed = false
        for _ in 0..<720 where !freed {
            usleep(250_000)
            freed = try server.load().active == 0
        }
        #expect(freed)
        #expect(try server.roundTrip("GET", "/metrics").1.contains("\ngpt_stalled_streams_total 1\n"))
        server.stop()
        let log = server.logText
        #expect(log.contains("stream stalled"))
        let line = log.split(separator: "\n").first { $0.contains("path=/generate") && $0.contains("tokens=") }
        let tokens = line.flatMap { $0.split(separator: " ").first { $0.hasPrefix("tokens=") } }.flatMap { Int($0.dropFirst(7)) }
        #expect(tokens != nil && tokens! < 100000, "\(log)")
    }

    @Test func delayIsCappedAndLongRequestsAreCut() throws {
        let server = try ServerProcess(["max_request_seconds=1"])
        let (head, body) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"],
                                                body: #"{"prompt": "A", "delay_ms": 1001}"#)
        #expect(head.status == 400)
        #expect(body.contains("delay_ms") && body.contains("1000"), "\(body)")

        let (cut, text) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"],
                                               body: #"{"prompt": "A", "num_tokens": 100, "delay_ms": 100, "stream": false}"#)
        #expect(cut.status == 200)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect(object["finish_reason"] as? String == "cancelled")
        #expect((object["token_ids"] as! [Int]).count < 100)
        server.stop()
        #expect(server.logText.contains("request time limit"))
    }

    /// With the shipped limits, one client filling every slot and queue place
    /// gets 503 queue_full with Retry-After on the next request, not a dropped
    /// connection, and /health still answers.
    @Test func oneClientMeetsTheQueueLimitNotTheConnectionLimit() throws {
        let server = try ServerProcess()
        var streams: [RawClient] = []
        for _ in 0..<20 {
            let client = try server.generate(#"{"prompt": "A", "num_tokens": 1000, "delay_ms": 200}"#)
            _ = try client.readHead()
            streams.append(client)
        }
        let (head, body) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"],
                                                body: #"{"prompt": "A"}"#)
        #expect(head.status == 503)
        #expect(head.headers["retry-after"] != nil)
        #expect(body.contains("queue_full"))
        #expect(try server.roundTrip("GET", "/health").0.status == 200)
        streams.forEach { $0.abort() }
    }

    /// A client that shuts down its sending side after the request gets the
    /// whole answer, in every format.
    @Test(arguments: [
        ("/generate", #"{"prompt": "A", "num_tokens": 60, "seed": 5, "stream": false}"#, nil as String?),
        ("/generate", #"{"prompt": "A", "num_tokens": 60, "seed": 5}"#, "application/x-ndjson"),
        ("/generate", #"{"prompt": "A", "num_tokens": 60, "seed": 5}"#, "text/event-stream"),
        ("/v1/completions", #"{"model": "MODEL", "prompt": "A", "max_tokens": 60, "seed": 5, "stream": true}"#, nil),
    ])
    func halfClosedClientsGetTheWholeAnswer(path: String, body: String, accept: String?) throws {
        let server = try ServerProcess()
        let model = URL(fileURLWithPath: ServerProcess.checkpoint).deletingPathExtension().lastPathComponent
        let body = body.replacingOccurrences(of: "MODEL", with: model)
        let client = try server.connect()
        var headers = ["Content-Type: application/json"]
        if let accept { headers.append("Accept: \(accept)") }
        try client.request("POST", path, headers: headers, body: body)
        client.shutdownWrite()
        let (head, text) = try ServerProcess.readResponse(client)
        #expect(head.status == 200)
        #expect(!text.contains("cancelled"), "\(text)")
        #expect(text.contains("length"), "\(text)")
        server.stop()
        #expect(server.logText.contains("tokens=60"))
    }

    @Test func aFifoIsRefusedAtStartUp() throws {
        let fifo = FileManager.default.temporaryDirectory.appendingPathComponent("gpt-fifo-\(getpid())").path
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let started = try ServerTests.failedStart(["--port", "0", "--ckpt", fifo, "--tokenizer", ServerProcess.tokenizer])
        #expect(started.status != 0)
        #expect(started.stderr.contains("\(fifo): the checkpoint must be a regular file or a model folder; this is a FIFO"), "\(started.stderr)")
    }

    /// The test model's vocabulary (2100) is larger than the fixture tokenizer's (2000 ids).
    @Test func aTokenizerSmallerThanTheVocabularyIsWarnedAbout() throws {
        let server = try ServerProcess()
        server.stop()
        let log = server.logText
        #expect(log.contains("the tokenizer is smaller than the model's vocabulary"), "\(log)")
        #expect(log.contains("tokenizer_ids=2000") && log.contains("model_vocab=2100"))
    }
}

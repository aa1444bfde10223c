import Foundation
import HTTPTestSupport
import Testing

/// `gpt-server` as a client sees it: real HTTP over loopback to a real process.
/// Serialized: each test starts its own server, and timing-sensitive checks
/// should not compete with each other for the two cores.
@Suite(.serialized) struct ServerTests {
    @Test func healthAndModelDescribeTheLoadedModel() throws {
        let server = try ServerProcess()
        let (health, healthBody) = try server.roundTrip("GET", "/health")
        #expect(health.status == 200)
        #expect(healthBody.contains("\"status\":\"ok\""))
        let (model, body) = try server.roundTrip("GET", "/model")
        #expect(model.status == 200)
        let info = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
        #expect(info["layers"] as? Int == 2 && info["heads"] as? Int == 2 && info["channels"] as? Int == 64)
        #expect(info["vocab_size"] as? Int == 2100 && info["context_length"] as? Int == 256)
        #expect((info["checkpoint"] as? String)?.hasSuffix(".bin") == true)
        #expect(info["format"] as? String == "llm.c v3" && info["weight_type"] as? String == "f32" && info["output"] as? String == "tied")
        #expect(info["huge_pages"] as? Bool == false)
    }

    /// `huge_pages`: the weights copied into transparent huge pages (where the
    /// kernel offers them, read here from sysfs) generate the same tokens as
    /// the mapped file, and /model says which it is.
    @Test func hugePagesGenerateTheSameTokens() throws {
        let offered = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8))
            .map { !$0.contains("[never]") } ?? false
        let request = #"{"prompt": "To be, or not to be:", "num_tokens": 40, "top_k": 1, "stream": false}"#
        var tokens: [[Int]] = []
        for settings in [[], ["huge_pages=true"]] {
            let server = try ServerProcess(settings)
            let (_, body) = try server.roundTrip("GET", "/model")
            let info = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
            #expect(info["huge_pages"] as? Bool == (settings.isEmpty ? false : offered), "\(settings)")
            let (head, answer) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"], body: request)
            #expect(head.status == 200, "\(answer)")
            let result = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as! [String: Any]
            tokens.append(result["token_ids"] as? [Int] ?? [])
        }
        #expect(tokens[0].count == 40 && tokens[1] == tokens[0])
    }

    /// The default format streams raw text in chunks; the first token arrives
    /// while later ones are still being generated (the client hangs up after it,
    /// and the server logs far fewer tokens than were asked for).
    @Test func plainTextStreamsTokenByToken() throws {
        let server = try ServerProcess()
        let client = try server.generate(#"{"prompt": "To be, or not to be:", "num_tokens": 1000, "delay_ms": 20, "seed": 3}"#)
        let head = try client.readHead()
        #expect(head.status == 200)
        #expect(head.headers["transfer-encoding"] == "chunked")
        #expect(head.headers["content-type"] == "text/plain; charset=utf-8")
        let first = try client.readChunk()
        #expect(first != nil && !first!.isEmpty)
        client.close()
        #expect(try eventually { try server.load().active == 0 })
        server.stop()
        let log = server.logText
        let line = log.split(separator: "\n").first { $0.contains("path=/generate") && $0.contains("tokens=") }
        let tokens = line.flatMap { $0.split(separator: " ").first { $0.hasPrefix("tokens=") } }.flatMap { Int($0.dropFirst(7)) }
        #expect(tokens != nil && tokens! < 1000, "log: \(log)")
    }

    @Test func ndjsonSseAndJsonCarryTheSameSeededTokens() throws {
        let server = try ServerProcess()
        let request = #"{"prompt": "My kingdom for a", "num_tokens": 24, "seed": 77, "temp": 0.9, "top_k": 40"#
        let ndjson = try LineReader(server.generate(request + "}", accept: "application/x-ndjson"))
        #expect(try ndjson.client.readHead().headers["content-type"] == "application/x-ndjson")
        let streamed = try ndjson.readAll()
        #expect(streamed.ids.count == 24)
        #expect(streamed.done["finish_reason"] as? String == "length")
        #expect(streamed.done["seed"] as? Int == 77)
        let usage = streamed.done["usage"] as! [String: Any]
        #expect(usage["completion_tokens"] as? Int == 24)
        #expect((usage["prompt_tokens"] as? Int ?? 0) > 0)
        let timings = streamed.done["timings"] as! [String: Any]
        #expect(timings["prefill_ms"] is Double && timings["ms_per_token"] is Double && timings["time_to_first_token_ms"] is Double)

        let (head, body) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"],
                                                body: request + #", "stream": false}"#)
        #expect(head.status == 200 && head.headers["content-type"] == "application/json")
        let whole = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
        #expect(whole["token_ids"] as? [Int] == streamed.ids)
        #expect(whole["text"] as? String == streamed.text)

        let sse = try server.generate(request + "}", accept: "text/event-stream")
        let (sseHead, events) = try ServerProcess.readResponse(sse)
        #expect(sseHead.headers["content-type"] == "text/event-stream")
        let payloads = events.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(payloads.allSatisfy { $0.hasPrefix("data: ") })
        let objects = try payloads.map { try JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as! [String: Any] }
        #expect(objects.compactMap { $0["id"] as? Int } == streamed.ids)
        #expect(objects.last?["done"] as? Bool == true)
    }

    /// Once a stream is under way, tokens that come within
    /// `stream_flush_milliseconds` of its last piece go out together. With a
    /// whole second, and 5 ms between tokens (the server's default
    /// `delay_ms`, which /v1 takes too), the first token goes out at once and
    /// the other 39 in one or two pieces with the end; with 0, each as it comes.
    @Test(arguments: ["/generate", "/v1/completions"])
    func aFastStreamGoesOutInFewPieces(path: String) throws {
        func pieces(flush: Int) throws -> [String] {
            let server = try ServerProcess(["stream_flush_milliseconds=\(flush)", "defaults.delay_ms=5"])
            let client = try server.connect()
            let body = path == "/generate" ? #"{"prompt": "A", "num_tokens": 40, "max_seq_len": 64}"#
                : #"{"model": "\#(APIExtrasTests.modelID)", "prompt": "A", "max_tokens": 40, "ignore_eos": true, "stream": true}"#
            try client.request("POST", path, headers: ["Content-Type: application/json", "Accept: application/x-ndjson"], body: body)
            #expect(try client.readHead().status == 200)
            var pieces: [String] = []
            while let chunk = try client.readChunk(timeout: 30) { pieces.append(String(decoding: chunk, as: UTF8.self)) }
            return pieces
        }
        // A token is an NDJSON line with its id, or an SSE event whose choice is not finished.
        let marker = path == "/generate" ? "\"id\":" : "\"finish_reason\":null"
        func tokens(_ piece: String) -> Int { piece.components(separatedBy: marker).count - 1 }
        // /v1 sends no event for a token that ends inside a character (this
        // tokenizer has byte tokens), so its count is at most 40.
        let expected = path == "/generate" ? 40...40 : 20...40
        let gathered = try pieces(flush: 1000)
        #expect(expected.contains(gathered.map(tokens).reduce(0, +)))
        #expect(tokens(gathered[0]) < 10, "the first token is not held: \(gathered.map(tokens))")
        #expect(gathered.count <= 4, "\(gathered.count) pieces: \(gathered.map(tokens))")
        let each = try pieces(flush: 0)
        #expect(expected.contains(each.map(tokens).reduce(0, +)))
        #expect(each.count > 15, "\(each.count) pieces: \(each.map(tokens))")
    }

    /// Several clients at once: every request advances while the others run,
    /// and a seeded request gives the same tokens alone or among others (its
    /// window holds the whole generation, so every step after the prompt is
    /// batched with the others' decode steps).
    @Test func concurrentRequestsAdvanceTogetherAndStayReproducible() throws {
        let server = try ServerProcess(["max_active=4", "max_num_tokens=5000"])
        let seeded = #"{"prompt": "Once more unto the breach", "num_tokens": 40, "seed": 5, "top_k": 0, "max_seq_len": 200}"#
        let alone = try LineReader(server.generate(seeded, accept: "application/x-ndjson"))
        _ = try alone.client.readHead()
        let aloneIds = try alone.readAll().ids

        // A long request starts first; the seeded one joins while it runs.
        let long = try LineReader(server.generate(#"{"prompt": "A", "num_tokens": 4000, "seed": 1}"#, accept: "application/x-ndjson"))
        _ = try long.client.readHead()
        _ = try long.next()
        let others = try (0..<2).map { i in
            try LineReader(server.generate(#"{"prompt": "Friends, Romans", "num_tokens": 30, "seed": \#(i), "max_seq_len": 200}"#,
                                           accept: "application/x-ndjson"))
        }
        let together = try LineReader(server.generate(seeded, accept: "application/x-ndjson"))
        _ = try together.client.readHead()
        let togetherIds = try together.readAll().ids
        #expect(togetherIds == aloneIds)
        // The long request is still going: the short ones did not wait for it to finish.
        #expect(try server.load().active >= 1)
        for other in others {
            _ = try other.client.readHead()
            #expect(try other.readAll().ids.count == 30)
        }
        let rest = try long.readAll()
        #expect(rest.done["finish_reason"] as? String == "length")
        #expect(rest.ids.count == 3999)
    }

    @Test func queueFullAnswers503WithRetryAfter() throws {
        let server = try ServerProcess(["max_active=1", "max_queued=1"])
        let slow = #"{"prompt": "A", "num_tokens": 500, "delay_ms": 20}"#
        let active = try server.generate(slow, accept: "application/x-ndjson")
        #expect(try active.readHead().status == 200)
        #expect(try eventually { try server.load().active == 1 })
        let queued = try server.generate(slow, accept: "application/x-ndjson")
        #expect(try queued.readHead().status == 200)
        #expect(try eventually { try server.load().queued == 1 })
        let (head, body) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"], body: slow)
        #expect(head.status == 503)
        #expect(head.headers["retry-after"] == "1")
        #expect(body.contains("\"code\":\"queue_full\""))
    }

    /// While a request waits, NDJSON gets keep-alive lines; when its client hangs
    /// up, the request leaves the queue although nothing was ever sent to it.
    @Test func queuedRequestsKeepAliveAndAreDroppedWhenTheirClientLeaves() throws {
        let server = try ServerProcess(["max_active=1", "keep_alive_milliseconds=100"])
        let active = try server.generate(#"{"prompt": "A", "num_tokens": 400, "delay_ms": 25}"#, accept: "application/x-ndjson")
        _ = try active.readHead()
        #expect(try eventually { try server.load().active == 1 })
        let waiting = LineReader(try server.generate(#"{"prompt": "B", "num_tokens": 5}"#, accept: "application/x-ndjson"))
        #expect(try waiting.client.readHead().status == 200)
        let keepAlive = try waiting.next(timeout: 5)
        #expect(keepAlive?["status"] as? String == "queued")
        #expect(try server.load().queued == 1)
        waiting.client.close()
        #expect(try eventually { try server.load().queued == 0 })
        #expect(try server.load().active == 1)  // the running request goes on
        // The dropped prompt never reached the model (and the running one is not finished).
        #expect(try server.roundTrip("GET", "/metrics").1.contains("\ngpt_prompt_tokens_total 0\n"))
    }

    /// A client that hangs up mid-stream frees the model within a token.
    @Test func disconnectMidStreamCancelsTheGeneration() throws {
        let server = try ServerProcess(["max_num_tokens=100000"])
        let client = try server.generate(#"{"prompt": "A", "num_tokens": 100000}"#)
        _ = try client.readHead()
        _ = try client.readChunk()
        #expect(try server.load().active == 1)
        client.close()
        #expect(try eventually { try server.load().active == 0 })
    }

    @Test(arguments: [
        (#"{"prompt": "x", "ckpt": "other.bin"}"#, "model_fixed", "fixed when the server starts"),
        (#"{"prompt": "x", "tokenizer": "t.json"}"#, "model_fixed", "tokenizer cannot be chosen"),
        (#"{"prompt": "x", "colour": "blue"}"#, "unknown_field", "unknown field \"colour\""),
        (#"{"prompt": "x", "num_tokens": "ten"}"#, "invalid_request", "\"num_tokens\" must be an integer from 0 to 1024"),
        (#"{"prompt": "x", "num_tokens": 1025}"#, "invalid_request", "from 0 to 1024; got 1025"),
        (#"{"prompt": "x", "max_seq_len": 257}"#, "invalid_request", "\"max_seq_len\" must be an integer from 1 to 256"),
        (#"{"prompt": "x", "temp": -0.5}"#, "invalid_request", "\"temp\" must be a number from 0"),
        (#"{"prompt": "x", "top_p": 1.5}"#, "invalid_request", "\"top_p\" must be a number greater than 0 and at most 1"),
        (#"{"prompt": "x", "top_k": -1}"#, "invalid_request", "\"top_k\" must be an integer from 0"),
        (#"{"prompt": "x", "eos_id": 2100}"#, "invalid_request", "\"eos_id\" must be an integer from -1 to 2099"),
        (#"{"prompt": "x", "stream": "yes"}"#, "invalid_request", "\"stream\" must be true or false"),
        (#"{"prompt": "x", "delay_ms": -5}"#, "invalid_request", "\"delay_ms\" must be an integer from 0"),
        (#"{"prompt": ""}"#, "invalid_request", "\"prompt\" must be a non-empty string"),
        (#"{"prompt": []}"#, "invalid_request", "\"prompt\" must be a non-empty string or a non-empty list of token ids"),
        (#"{"prompt": "x", "logprobs": 21}"#, "invalid_request", "\"logprobs\" must be an integer from 0 to 20"),
        (#"{"prompt": "x", "min_p": 1.5}"#, "invalid_request", "\"min_p\" must be a number from 0 to 1"),
        (#"{"prompt": "x", "repeat_penalty": 0}"#, "invalid_request", "\"repeat_penalty\" must be a number greater than 0"),
        (#"{"prompt": "x", "repeat_last_n": -1}"#, "invalid_request", "\"repeat_last_n\" must be an integer from 0"),
        (#"{"prompt": "x", "presence_penalty": 3}"#, "invalid_request", "\"presence_penalty\" must be a number from -2 to 2"),
        (#"{"prompt": "x", "frequency_penalty": -2.5}"#, "invalid_request", "\"frequency_penalty\" must be a number from -2 to 2"),
        (#"{"prompt": "x", "logit_bias": {"2100": 1}}"#, "invalid_request", "\"logit_bias\" keys must be token ids from 0 to 2099"),
        (#"{"prompt": "x", "logit_bias": {"5": 101}}"#, "invalid_request", "values must be numbers from -100 to 100"),
        (#"{"prompt": "x", "logit_bias": {"five": 1}}"#, "invalid_request", "keys must be token ids written as strings"),
        (#"{"prompt": "x", "logit_bias": [1]}"#, "invalid_request", "must be an object mapping token ids"),
        (#"{"prompt": "x", "ignore_eos": 1}"#, "invalid_request", "\"ignore_eos\" must be true or false"),
        (#"{"prompt": "x", "min_tokens": -1}"#, "invalid_request", "\"min_tokens\" must be an integer from 0"),
        (#"{"num_tokens": 3}"#, "invalid_request", "\"prompt\" is required"),
        (#"["prompt"]"#, "invalid_request", "must be a JSON object"),
        (#"{"prompt": "x",}"#, "invalid_json", "not valid JSON"),
    ])
    func badBodiesGet400NamingTheProblem(case: (String, String, String)) throws {
        let server = try ServerProcess()
        let (head, body) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"], body: `case`.0)
        #expect(head.status == 400)
        #expect(head.headers["content-type"] == "application/json")
        #expect(body.contains("\"code\":\"\(`case`.1)\""), "\(body)")
        #expect(body.contains(`case`.2.replacingOccurrences(of: "\"", with: "\\\"")), "\(body)")
    }

    @Test func otherErrorStatuses() throws {
        let server = try ServerProcess()
        let (notFound, notFoundBody) = try server.roundTrip("GET", "/nowhere")
        #expect(notFound.status == 404 && notFoundBody.contains("\"code\":\"not_found\""))
        let (wrongMethod, _) = try server.roundTrip("GET", "/generate")
        #expect(wrongMethod.status == 405 && wrongMethod.headers["allow"] == "POST")
        let (wrongHealth, _) = try server.roundTrip("POST", "/health", body: "")
        #expect(wrongHealth.status == 405 && wrongHealth.headers["allow"] == "GET, HEAD")
        let (notJSON, notJSONBody) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: text/plain"], body: "hi")
        #expect(notJSON.status == 415 && notJSONBody.contains("application/json"))
        let big = "{\"prompt\": \"" + String(repeating: "a", count: 1 << 20) + "\"}"
        let (tooBig, tooBigBody) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"], body: big)
        #expect(tooBig.status == 413 && tooBigBody.contains("payload_too_large"))
    }

    /// SIGTERM: new connections are refused, the running stream finishes, exit 0.
    @Test func sigtermDrainsInFlightStreams() throws {
        let server = try ServerProcess()
        let reader = LineReader(try server.generate(#"{"prompt": "A", "num_tokens": 30, "delay_ms": 40}"#, accept: "application/x-ndjson"))
        _ = try reader.client.readHead()
        _ = try reader.next()
        kill(server.process.processIdentifier, SIGTERM)
        #expect(eventually { (try? server.connect()) == nil })
        let rest = try reader.readAll()
        #expect(rest.done["finish_reason"] as? String == "length")
        #expect(rest.ids.count == 29)
        #expect(server.exitStatus(within: 20) == 0)
    }

    @Test func startupFailuresExitWithOneClearLine() throws {
        let missing = try Self.failedStart(["--port", "0", "--ckpt", "/nonexistent/model.bin", "--tokenizer", ServerProcess.tokenizer])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent/model.bin: cannot open"))

        let running = try ServerProcess()
        let clash = try Self.failedStart(["--port", "\(running.port)", "--ckpt", ServerProcess.checkpoint,
                                          "--tokenizer", ServerProcess.tokenizer])
        #expect(clash.status != 0)
        #expect(clash.stderr.contains("in use"))
    }

    /// Runs gpt-server where it is expected to stop at startup: its exit status
    /// and stderr. One that hangs instead is killed after 60 s (and fails).
    static func failedStart(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = ServerProcess.products.appendingPathComponent("gpt-server")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { [process] in
            if process.isRunning { kill(pid, SIGKILL) }
        }
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, stderr)
    }
}

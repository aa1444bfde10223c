import Foundation
import HTTPTestSupport
import Testing

/// The OpenAI-compatible API, stop strings, metrics, API keys and CORS, over loopback.
@Suite(.serialized) struct APIExtrasTests {
    static let modelID = URL(fileURLWithPath: ServerProcess.checkpoint).deletingPathExtension().lastPathComponent

    func object(_ body: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
    }

    @Test func openAICompletionMatchesItsStreamAndListsTheModel() throws {
        let server = try ServerProcess()
        let (modelsHead, modelsBody) = try server.roundTrip("GET", "/v1/models")
        #expect(modelsHead.status == 200)
        let models = try object(modelsBody)
        #expect((models["data"] as? [[String: Any]])?.first?["id"] as? String == Self.modelID)

        let request = #"{"model": "\#(Self.modelID)", "prompt": "To be", "max_tokens": 12, "seed": 8, "temperature": 0.8"#
        let (head, body) = try server.roundTrip("POST", "/v1/completions", headers: ["Content-Type: application/json"],
                                                body: request + "}")
        #expect(head.status == 200)
        let whole = try object(body)
        #expect(whole["object"] as? String == "text_completion")
        let choice = (whole["choices"] as! [[String: Any]])[0]
        #expect(choice["finish_reason"] as? String == "length")
        #expect((whole["usage"] as? [String: Any])?["completion_tokens"] as? Int == 12)

        let client = try server.connect()
        try client.request("POST", "/v1/completions", headers: ["Content-Type: application/json"],
                           body: request + #", "stream": true, "stream_options": {"include_usage": true}}"#)
        let (streamHead, events) = try ServerProcess.readResponse(client)
        #expect(streamHead.headers["content-type"] == "text/event-stream")
        let payloads = events.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { String($0.dropFirst("data: ".count)) }
        #expect(payloads.last == "[DONE]")
        let chunks = try payloads.dropLast().map(object)
        let text = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["text"] as? String }.joined()
        #expect(text == choice["text"] as? String)
        #expect((chunks.last?["usage"] as? [String: Any])?["completion_tokens"] as? Int == 12)
    }

    @Test(arguments: [
        (#"{"model": "MODEL", "prompt": "x", "n": 17}"#, 400, "n"),
        (#"{"model": "MODEL", "prompt": "x", "logprobs": 21}"#, 400, "logprobs"),
        (#"{"model": "MODEL", "prompt": "x", "echo": "yes"}"#, 400, "echo"),
        (#"{"model": "MODEL", "prompt": [5, 2100]}"#, 400, "prompt"),
        (#"{"model": "MODEL", "prompt": ["a", 5]}"#, 400, "prompt"),
        (#"{"model": "MODEL", "prompt": "x", "temperature": 3}"#, 400, "temperature"),
        (#"{"model": "other-model", "prompt": "x"}"#, 404, "model"),
        (#"{"prompt": "x"}"#, 400, "model"),
    ])
    func unsupportedOpenAIOptionsGetOpenAIErrors(case: (String, Int, String)) throws {
        let server = try ServerProcess()
        let body = `case`.0.replacingOccurrences(of: "MODEL", with: Self.modelID)
        let (head, text) = try server.roundTrip("POST", "/v1/completions", headers: ["Content-Type: application/json"], body: body)
        #expect(head.status == `case`.1)
        let error = try object(text)["error"] as! [String: Any]
        #expect(error["param"] as? String == `case`.2, "\(text)")
        #expect(error["type"] as? String == "invalid_request_error")
        #expect(!(error["message"] as? String ?? "").isEmpty)
    }

    /// The text up to a stop string that spans tokens, taken from the same seeded run without it.
    @Test func stopStringEndsTheGenerationAndIsNotReturned() throws {
        let server = try ServerProcess()
        let request = #"{"prompt": "My kingdom for a", "num_tokens": 30, "seed": 21, "top_k": 0"#
        let free = LineReader(try server.generate(request + "}", accept: "application/x-ndjson"))
        _ = try free.client.readHead()
        var pieces: [String] = []
        while let message = try free.next(), message["done"] == nil { pieces.append(message["text"] as? String ?? "") }
        let index = pieces.indices.dropFirst(3).first { !pieces[$0].isEmpty && !pieces[$0 + 1].isEmpty }!
        let stop = String(pieces[index].suffix(1)) + String(pieces[index + 1].prefix(1))
        let full = pieces.joined()
        let expected = String(full[..<full.range(of: stop)!.lowerBound])
        let escaped = String(data: try JSONSerialization.data(withJSONObject: [stop]), encoding: .utf8)!

        let (head, body) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"],
                                                body: request + #", "stream": false, "stop": \#(escaped)}"#)
        #expect(head.status == 200)
        let result = try object(body)
        #expect(result["text"] as? String == expected)
        #expect(result["finish_reason"] as? String == "stop")
    }

    @Test func metricsCountRequestsAndTokens() throws {
        let server = try ServerProcess()
        _ = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"],
                                 body: #"{"prompt": "A", "num_tokens": 7, "stream": false}"#)
        _ = try server.roundTrip("GET", "/nowhere")
        let (head, text) = try server.roundTrip("GET", "/metrics")
        #expect(head.status == 200)
        #expect(head.headers["content-type"]?.hasPrefix("text/plain") == true)
        #expect(text.contains(#"http_requests_total{route="/generate",status="200"} 1"#))
        #expect(text.contains(#"http_requests_total{route="other",status="404"} 1"#))
        #expect(text.contains("gpt_generated_tokens_total 7"))
        #expect(text.contains("gpt_time_to_first_token_seconds_count 1"))
        #expect(text.contains("gpt_time_per_token_seconds_count 1"))
        #expect(text.contains("gpt_queue_depth 0"))
        #expect(text.contains("gpt_active_generations 0"))
    }

    @Test func apiKeyGuardsEveryRouteButHealthAndThePage() throws {
        let server = try ServerProcess(["api_key=s3cret"])
        #expect(try server.roundTrip("GET", "/health").0.status == 200)
        #expect(try server.roundTrip("GET", "/").0.status == 200)
        for path in ["/model", "/metrics", "/v1/models"] {
            let (head, _) = try server.roundTrip("GET", path)
            #expect(head.status == 401, "\(path)")
            #expect(head.headers["www-authenticate"] == "Bearer")
            #expect(try server.roundTrip("GET", path, headers: ["Authorization: Bearer s3cret!"]).0.status == 401)
            #expect(try server.roundTrip("GET", path, headers: ["Authorization: Bearer s3cret"]).0.status == 200)
        }
        let (generate, _) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"],
                                                 body: #"{"prompt": "A", "num_tokens": 2}"#)
        #expect(generate.status == 401)
    }

    @Test func corsHeadersOnlyForAllowedOrigins() throws {
        let server = try ServerProcess([#"cors_origins=["http://allowed.example"]"#])
        let (allowed, _) = try server.roundTrip("GET", "/model", headers: ["Origin: http://allowed.example"])
        #expect(allowed.headers["access-control-allow-origin"] == "http://allowed.example")
        let (other, _) = try server.roundTrip("GET", "/model", headers: ["Origin: http://evil.example"])
        #expect(other.headers["access-control-allow-origin"] == nil)
        let (preflight, _) = try server.roundTrip("OPTIONS", "/generate", headers: [
            "Origin: http://allowed.example", "Access-Control-Request-Method: POST"])
        #expect(preflight.status == 204)
        #expect(preflight.headers["access-control-allow-headers"]?.contains("Authorization") == true)
        let (refused, _) = try server.roundTrip("OPTIONS", "/generate", headers: [
            "Origin: http://evil.example", "Access-Control-Request-Method: POST"])
        #expect(refused.status == 403)
        let plain = try ServerProcess()
        #expect(try plain.roundTrip("GET", "/model", headers: ["Origin: http://allowed.example"]).0
            .headers["access-control-allow-origin"] == nil)
    }

    /// The body limit is enforced below the router, but the 413 is the router's:
    /// CORS headers, the OpenAI shape on /v1, the request log and the metrics.
    @Test func oversizedBodiesGetA413LikeAnyOtherError() throws {
        let server = try ServerProcess(["max_body_bytes=1000", #"cors_origins=["http://allowed.example"]"#])
        let big = #"{"prompt": ""# + String(repeating: "a", count: 2000) + #""}"#
        let (generate, generateBody) = try server.roundTrip(
            "POST", "/generate", headers: ["Content-Type: application/json", "Origin: http://allowed.example"], body: big)
        #expect(generate.status == 413)
        #expect(generate.headers["access-control-allow-origin"] == "http://allowed.example")
        let error = try #require(try object(generateBody)["error"] as? [String: Any])
        #expect(error["code"] as? String == "payload_too_large")
        #expect((error["message"] as? String)?.contains("1000 bytes") == true)

        let (completions, completionsBody) = try server.roundTrip(
            "POST", "/v1/completions", headers: ["Content-Type: application/json"], body: big)
        #expect(completions.status == 413)
        let openAIError = try #require(try object(completionsBody)["error"] as? [String: Any])
        #expect(openAIError["type"] as? String == "invalid_request_error")

        let (_, metrics) = try server.roundTrip("GET", "/metrics")
        #expect(metrics.contains(#"http_requests_total{route="/generate",status="413"} 1"#))
        #expect(metrics.contains(#"http_requests_total{route="/v1/completions",status="413"} 1"#))
    }
}

import Foundation
import Testing

/// The steering samplers over HTTP: a ban holds, and a seeded run with every
/// sampler on gives the same tokens in the server and in the `generate` CLI.
@Suite struct SamplingTests {
    func whole(_ server: ServerProcess, _ fields: String) throws -> [String: Any] {
        let (head, body) = try server.roundTrip("POST", "/generate", headers: ["Content-Type: application/json"],
                                                body: #"{"prompt": "To be, or not to be:", "stream": false, "#  + fields + "}")
        #expect(head.status == 200, "\(body)")
        return try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
    }

    @Test func logitBiasBansTheGreedyTokenEverywhere() throws {
        let server = try ServerProcess()
        let greedy = try whole(server, #""num_tokens": 8, "top_k": 1"#)["token_ids"] as! [Int]
        let banned = greedy[0]
        let steered = try whole(server, #""num_tokens": 8, "top_k": 1, "logit_bias": {"\#(banned)": -100}"#)["token_ids"] as! [Int]
        #expect(steered.count == 8 && !steered.contains(banned))
        #expect(steered[0] != greedy[0])
    }

    @Test func seededSteeringIsTheSameInTheCLIAndTheServer() throws {
        let server = try ServerProcess()
        let fields = #""num_tokens": 30, "top_k": 0, "temp": 0.9, "seed": 77, "min_p": 0.02, "repeat_penalty": 1.3, "repeat_last_n": 16, "presence_penalty": 0.3, "frequency_penalty": 0.2, "logit_bias": {"12": -100, "40": 1.5}, "min_tokens": 5"#
        let text = try whole(server, fields)["text"] as! String
        server.stop()

        let process = Process()
        process.executableURL = ServerProcess.products.appendingPathComponent("generate")
        process.arguments = ["--ckpt", ServerProcess.checkpoint, "--tokenizer", ServerProcess.tokenizer,
                             "--prompt", "To be, or not to be:", "--num_tokens", "30", "--top_k", "0", "--temp", "0.9",
                             "--seed", "77", "--min_p", "0.02", "--repeat_penalty", "1.3", "--repeat_last_n", "16",
                             "--presence_penalty", "0.3", "--frequency_penalty", "0.2", "--logit_bias", "12=-100,40=1.5",
                             "--min_tokens", "5"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(printed == "To be, or not to be:" + text + "\n")
    }
}

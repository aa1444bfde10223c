import Foundation
import GPT
import Testing
@testable import InferenceServer

@Suite struct ConfigTests {
    static let configFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config/server.json").path

    static let model = GPTConfig(maxT: 64, vocabularySize: 100, layers: 1, heads: 1, channels: 8)

    /// config/server.json holds every setting, each at its built-in default.
    @Test func committedConfigFileListsEveryDefault() throws {
        var loader = ConfigLoader()
        try loader.apply(file: Self.configFile)
        var config = try loader.config()
        #expect(try config.generationDefaults(for: Self.model) == GenerationDefaults())
        #expect(Set(config.defaults.values.keys) == Set(DefaultSettings.names))
        config.defaults = DefaultSettings()
        #expect(config == ServerConfig())
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.configFile))) as! [String: Any]
        let keys = object.keys.filter { $0 != "defaults" } + (object["defaults"] as! [String: Any]).keys.map { "defaults.\($0)" }
        #expect(Set(keys) == Set(loader.keys))
    }

    /// Defaults < file < environment < flags.
    @Test func laterLayersOverrideEarlierOnes() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("server-\(UUID().uuidString).json")
        try Data(#"{"port": 9000, "max_active": 2, "defaults": {"top_k": 7, "min_p": 0.1}}"#.utf8).write(to: file)
        var loader = ConfigLoader()
        try loader.apply(file: file.path)
        try loader.apply(environment: ["GPT_SERVER_PORT": "9100", "GPT_SERVER_DEFAULTS_TEMP": "0.5", "UNRELATED": "x",
                                       "GPT_SERVER_DEFAULTS_MIN_P": "0.2"])
        try loader.apply(override: "port=9200", source: "--set")
        try loader.apply(override: "defaults.repeat_penalty=1.3", source: "--set")
        let config = try loader.config()
        #expect(config.port == 9200)
        #expect(config.maxActive == 2)
        let defaults = try config.generationDefaults(for: Self.model)
        #expect(defaults.settings.topK == 7)
        #expect(defaults.settings.temperature == 0.5)
        #expect(defaults.settings.minP == 0.2)
        #expect(defaults.settings.repeatPenalty == 1.3)
        #expect(config.host == "127.0.0.1")
        try FileManager.default.removeItem(at: file)
    }

    /// Integer settings take JSON integers only, as integer request fields do:
    /// `3.0` is refused from every layer, not rounded; number settings take integers.
    @Test func integerSettingsRefuseFractionsLikeRequests() throws {
        #expect(ConfigLoader.integerKeys.isSuperset(of: ["port", "max_active", "max_connections_per_ip"]))
        #expect(ConfigLoader.integerKeys.isDisjoint(with: ["host", "cors_origins"]))
        var loader = ConfigLoader()
        for (key, value) in [("max_active", "2.5"), ("port", "8e3")] {
            do {
                try loader.apply(override: "\(key)=\(value)", source: "--set")
                Issue.record("\(key)=\(value) was accepted")
            } catch {
                #expect("\(error)".contains("setting \"\(key)\" must be an integer"), "\(error)")
            }
        }
    }

    /// A `defaults.*` setting is refused exactly as the same value of the same
    /// field in a `/generate` request, whichever layer gave it.
    @Test(arguments: [("top_k", "3.0"), ("min_p", "2"), ("num_tokens", "5.0"), ("num_tokens", "2000"), ("top_p", "0"),
                      ("repeat_penalty", "0"), ("repeat_last_n", "-1"), ("eos_id", "100"), ("max_seq_len", "65"),
                      ("stream", "\"yes\""), ("delay_ms", "1.5"), ("presence_penalty", "2.5"), ("ignore_eos", "1")])
    func defaultsAreRefusedLikeRequestFields(field: String, value: String) throws {
        let body = Array(#"{"prompt": [1], "\#(field)": \#(value)}"#.utf8)
        let server = ServerConfig()
        var requestError: String?
        do {
            _ = try GenerateRequest(body: body, defaults: GenerationDefaults(),
                                    limits: FieldLimits(model: Self.model, server: server), config: Self.model)
        } catch {
            requestError = error.message
        }
        let expected = try #require(requestError, "the request was accepted").replacingOccurrences(
            of: "field \"\(field)\"", with: "setting \"defaults.\(field)\"")

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("server-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(#"{"defaults": {"\#(field)": \#(value)}}"#.utf8).write(to: file)
        let environment = ["GPT_SERVER_DEFAULTS_\(field.uppercased())": value]
        let layers: [(String, (inout ConfigLoader) throws -> Void)] = [
            ("--set", { try $0.apply(override: "defaults.\(field)=\(value)", source: "--set") }),
            ("environment", { try $0.apply(environment: environment) }),
            ("file", { try $0.apply(file: file.path) }),
        ]
        for (layer, apply) in layers {
            var loader = ConfigLoader()
            try apply(&loader)
            do {
                _ = try loader.config().generationDefaults(for: Self.model)
                Issue.record("\(layer): defaults.\(field)=\(value) was accepted")
            } catch {
                #expect("\(error)" == expected, "\(layer)")
            }
        }
    }

    @Test func refusesUnknownSettingsAndWrongTypes() throws {
        var loader = ConfigLoader()
        #expect(throws: ConfigError.self) { try loader.apply(override: "max_actve=3", source: "--set") }
        do { try loader.apply(override: "max_actve=3", source: "--set") } catch {
            #expect("\(error)".contains("unknown setting \"max_actve\""))
        }
        do { try loader.apply(environment: ["GPT_SERVER_PORT": "eighty"]) } catch {
            #expect("\(error)".contains("GPT_SERVER_PORT"))
        }
        var bad = ServerConfig()
        bad.maxActive = 0
        #expect(throws: ConfigError.self) { try bad.validate() }
    }

    /// huge_pages is a boolean, off unless asked for, from any layer; anything else is refused by name.
    @Test func hugePagesIsABooleanOffByDefault() throws {
        #expect(try ConfigLoader().config().hugePages == false)
        var loader = ConfigLoader()
        try loader.apply(override: "huge_pages=true", source: "--set")
        #expect(try loader.config().hugePages)
        try loader.apply(environment: ["GPT_SERVER_HUGE_PAGES": "false"])
        #expect(try loader.config().hugePages == false)
        do {
            try loader.apply(override: "huge_pages=yes", source: "--set")
            Issue.record("huge_pages=yes was accepted")
        } catch {
            #expect("\(error)".contains("setting \"huge_pages\" has the wrong type"), "\(error)")
        }
    }

    /// prompt_stall_factor: 0 (prompts whole) or 1.5 … 100, a fraction welcome.
    @Test func promptStallFactorIsZeroOrAtLeastOneAndAHalf() throws {
        for (value, accepted) in [("0", true), ("2.25", true), ("100", true), ("1", false), ("-1", false), ("101", false)] {
            var loader = ConfigLoader()
            try loader.apply(override: "prompt_stall_factor=\(value)", source: "--set")
            do {
                try loader.config().validate()
                #expect(accepted, "prompt_stall_factor=\(value) was accepted")
            } catch {
                #expect(!accepted && "\(error)".contains("prompt_stall_factor must be 0 (prompts run whole) or from 1.5 to 100"),
                        "\(value): \(error)")
            }
        }
    }

    @Test func refusesUnknownDefaults() throws {
        var loader = ConfigLoader()
        do {
            try loader.apply(override: "defaults.seed=3", source: "--set")
            Issue.record("defaults.seed was accepted")
        } catch {
            #expect("\(error)".contains("unknown setting \"defaults.seed\""))
        }
    }
}

@Suite struct StreamFormatTests {
    @Test(arguments: [
        (nil, StreamFormat.text), ("*/*", .text), ("application/x-ndjson", .ndjson), ("text/event-stream", .sse),
        ("text/html, text/event-stream;q=0.9", .sse), ("application/x-ndjson;q=0.5, text/event-stream", .sse),
        ("text/event-stream;q=0, application/x-ndjson", .ndjson), ("TEXT/EVENT-STREAM", .sse),
        (";", .text), (",;,", .text), ("text/event-stream;q=abc", .sse),
    ] as [(String?, StreamFormat)])
    func acceptChoosesTheFormat(case: (String?, StreamFormat)) {
        #expect(StreamFormat.negotiate(accept: `case`.0) == `case`.1)
    }
}

@Suite struct AccessTests {
    @Test func keyComparisonIsExact() {
        let key = Array("s3cret".utf8)
        #expect(Access.constantTimeEqual(key, Array("s3cret".utf8)))
        #expect(!Access.constantTimeEqual(key, Array("s3creT".utf8)))
        #expect(!Access.constantTimeEqual(key, Array("s3cre".utf8)))
        #expect(!Access.constantTimeEqual(key, Array("s3cret ".utf8)))
        #expect(!Access.constantTimeEqual(key, []))
        #expect(Access.constantTimeEqual([], []))
    }

    @Test func modelIDComesFromTheCheckpointPath() {
        #expect(Router.modelID(checkpointPath: "/srv/models/shakespeare/gpt_checkpoint.bin") == "shakespeare")
        #expect(Router.modelID(checkpointPath: "/tmp/tiny.bin") == "tiny")
    }
}

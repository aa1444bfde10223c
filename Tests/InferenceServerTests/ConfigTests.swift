import Foundation
import GPT
import Testing
@testable import InferenceServer

@Suite struct ConfigTests {
    static let configFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config/server.json").path

    /// config/server.json holds every setting, each at its built-in default.
    @Test func committedConfigFileListsEveryDefault() throws {
        var loader = ConfigLoader()
        try loader.apply(file: Self.configFile)
        #expect(try loader.config() == ServerConfig())
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.configFile))) as! [String: Any]
        let keys = object.keys.filter { $0 != "defaults" } + (object["defaults"] as! [String: Any]).keys.map { "defaults.\($0)" }
        #expect(Set(keys) == Set(loader.keys))
    }

    /// Defaults < file < environment < flags.
    @Test func laterLayersOverrideEarlierOnes() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("server-\(UUID().uuidString).json")
        try Data(#"{"port": 9000, "max_active": 2, "defaults": {"top_k": 7}}"#.utf8).write(to: file)
        var loader = ConfigLoader()
        try loader.apply(file: file.path)
        try loader.apply(environment: ["GPT_SERVER_PORT": "9100", "GPT_SERVER_DEFAULTS_TEMP": "0.5", "UNRELATED": "x"])
        try loader.apply(override: "port=9200", source: "--set")
        let config = try loader.config()
        #expect(config.port == 9200)
        #expect(config.maxActive == 2)
        #expect(config.defaults.topK == 7)
        #expect(config.defaults.temp == 0.5)
        #expect(config.host == "127.0.0.1")
    }

    /// Integer settings take JSON integers only, as integer request fields do:
    /// `3.0` is refused from every layer, not rounded; number settings take integers.
    @Test func integerSettingsRefuseFractionsLikeRequests() throws {
        #expect(ConfigLoader.integerKeys.isSuperset(of: ["port", "max_active", "max_connections_per_ip", "defaults.top_k",
                                                         "defaults.num_tokens", "defaults.eos_id", "defaults.delay_ms"]))
        #expect(ConfigLoader.integerKeys.isDisjoint(with: ["host", "defaults.temp", "defaults.top_p", "defaults.stream"]))
        var loader = ConfigLoader()
        for (key, value) in [("defaults.top_k", "3.0"), ("max_active", "2.5"), ("port", "8e3"), ("defaults.num_tokens", "5.0")] {
            do {
                try loader.apply(override: "\(key)=\(value)", source: "--set")
                Issue.record("\(key)=\(value) was accepted")
            } catch {
                #expect("\(error)".contains("setting \"\(key)\" must be an integer"), "\(error)")
            }
        }
        #expect(throws: ConfigError.self) { try loader.apply(environment: ["GPT_SERVER_DEFAULTS_TOP_K": "3.0"]) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("server-\(UUID().uuidString).json")
        try Data(#"{"defaults": {"eos_id": 1.0}}"#.utf8).write(to: file)
        #expect(throws: ConfigError.self) { try loader.apply(file: file.path) }
        try loader.apply(override: "defaults.top_k=3", source: "--set")
        try loader.apply(override: "defaults.temp=1", source: "--set")
        #expect(try loader.config().defaults.topK == 3)
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

    /// Defaults are checked like request fields, against the loaded model.
    @Test func refusesDefaultsTheModelCannotUse() throws {
        let model = GPTConfig(maxT: 64, vocabularySize: 100, layers: 1, heads: 1, channels: 8)
        try ServerConfig().validateDefaults(for: model)
        var config = ServerConfig()
        config.defaults.maxSeqLen = 65
        #expect(throws: ConfigError.self) { try config.validateDefaults(for: model) }
        do { try config.validateDefaults(for: model) } catch { #expect("\(error)".contains("defaults.max_seq_len")) }
        config = ServerConfig()
        config.defaults.numTokens = 2000
        do { try config.validateDefaults(for: model) } catch { #expect("\(error)".contains("max_num_tokens 1024")) }
        config = ServerConfig()
        config.defaults.topP = 0
        #expect(throws: ConfigError.self) { try config.validateDefaults(for: model) }
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

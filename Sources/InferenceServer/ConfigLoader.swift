import Foundation
import GPT
import JSON

/// A setting that could not be applied; names where it came from.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
}

/// Builds the server's configuration in layers, each overriding the one before:
/// built-in defaults, then the config file, then `GPT_SERVER_*` environment
/// variables, then command-line overrides.
///
/// Every layer is a set of JSON values addressed by key (`port`,
/// `defaults.top_k`), so every setting can be given in every layer the same way.
public struct ConfigLoader {
    public static let environmentPrefix = "GPT_SERVER_"
    private var settings: [String: Any]
    /// The `defaults.*` settings, apart: kept as JSON for `ServerConfig.generationDefaults`.
    private var defaults = DefaultSettings()

    public init() {
        let encoded = try! JSONEncoder().encode(ServerConfig())
        settings = try! JSONSerialization.jsonObject(with: encoded) as! [String: Any]
    }

    /// Every key, nested ones as `defaults.top_k`.
    public var keys: [String] {
        ServerConfig.CodingKeys.allCases.map(\.rawValue) + DefaultSettings.names.map { Self.defaultsPrefix + $0 }
    }

    static let defaultsPrefix = "defaults."

    /// Applies a JSON config file; a partial file leaves other settings alone.
    public mutating func apply(file path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError(description: "\(path): cannot read the config file: \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigError(description: "\(path): not a JSON object")
        }
        // Foundation reads 3.0 as a number fit for an integer: this project's
        // reader tells them apart, as the request parser does.
        guard case .object(let document)? = try? JSONValue.parse([UInt8](data)) else {
            throw ConfigError(description: "\(path): not a JSON object")
        }
        for (key, value) in document.members {
            if key == "defaults" {
                guard case .object(let nested) = value else {
                    throw ConfigError(description: "\(path): setting \"defaults\" must be an object of request field defaults such as {\"top_k\": 40}")
                }
                for (inner, innerValue) in nested.members { try setDefault(Self.defaultsPrefix + inner, innerValue, source: path) }
            } else {
                try Self.requireInteger(key, value, source: path)
                try set(key, value: object[key] as Any, source: path)
            }
        }
    }

    /// Applies `GPT_SERVER_PORT=9000`, `GPT_SERVER_DEFAULTS_TOP_K=3` and the like.
    public mutating func apply(environment: [String: String]) throws {
        for key in keys {
            let name = Self.environmentPrefix + key.replacingOccurrences(of: ".", with: "_").uppercased()
            if let text = environment[name] { try set(key, text: text, source: "environment variable \(name)") }
        }
    }

    /// Applies one `key=value` override (from the command line).
    public mutating func apply(override: String, source: String) throws {
        guard let equals = override.firstIndex(of: "=") else {
            throw ConfigError(description: "\(source): expected KEY=VALUE, got \"\(override)\"")
        }
        try set(String(override[..<equals]), text: String(override[override.index(after: equals)...]), source: source)
    }

    /// Applies a value given as text: as-is for a string setting (a key of
    /// digits stays a string), else as JSON (numbers, booleans, lists).
    public mutating func set(_ key: String, text: String, source: String) throws {
        if key.hasPrefix(Self.defaultsPrefix) {
            try setDefault(key, (try? JSONValue.parse(Array(text.utf8))) ?? .string(text), source: source)
            return
        }
        if settings[key] is String {
            try set(key, value: text, source: source)
            return
        }
        if let parsed = try? JSONValue.parse(Array(text.utf8)) { try Self.requireInteger(key, parsed, source: source) }
        let value = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) ?? text
        try set(key, value: value, source: source)
    }

    /// The settings whose values are integers: like a request's integer fields,
    /// they take JSON integers only (`3.0` is refused, not rounded).
    static let integerKeys: Set<String> = {
        // The Int properties by name; a setting's key is its property's name in snake case.
        func integers(_ value: Any, prefix: String) -> [String] {
            Mirror(reflecting: value).children.compactMap { child in
                guard child.value is Int, let label = child.label else { return nil }
                return prefix + label.reduce(into: "") { key, character in
                    key += character.isUppercase ? "_" + character.lowercased() : String(character)
                }
            }
        }
        return Set(integers(ServerConfig(), prefix: "")).intersection(ConfigLoader().keys)
    }()

    private static func requireInteger(_ key: String, _ value: JSONValue, source: String) throws {
        guard integerKeys.contains(key), case .number = value else { return }
        throw ConfigError(description: "\(source): setting \"\(key)\" must be an integer, written without a fraction or exponent as in requests (got \(value.description))")
    }

    /// A request field's default, kept as given: its type and range are
    /// checked against the model (`ServerConfig.generationDefaults`).
    private mutating func setDefault(_ key: String, _ value: JSONValue, source: String) throws {
        try requireKnown(key, source: source)
        defaults.values[String(key.dropFirst(Self.defaultsPrefix.count))] = value
    }

    private func requireKnown(_ key: String, source: String) throws {
        guard keys.contains(key) else {
            throw ConfigError(description: "\(source): unknown setting \"\(key)\"; settings are \(keys.joined(separator: ", "))")
        }
    }

    private mutating func set(_ key: String, value: Any, source: String) throws {
        try requireKnown(key, source: source)
        settings[key] = value
        do { _ = try config() } catch {
            throw ConfigError(description: "\(source): setting \"\(key)\" has the wrong type (\(value)): \(error)")
        }
    }

    /// The configuration with every layer applied, checked for sense.
    public func config() throws -> ServerConfig {
        let data = try JSONSerialization.data(withJSONObject: settings)
        var config = try JSONDecoder().decode(ServerConfig.self, from: data)
        config.defaults = defaults
        return config
    }
}

extension ServerConfig {
    /// Settings that parse but make no sense, named with their allowed range.
    public func validate() throws {
        let checks: [(String, Int, ClosedRange<Int>)] = [
            ("port", port, 0...65535), ("max_active", maxActive, 1...256), ("max_queued", maxQueued, 0...100_000),
            ("max_num_tokens", maxNumTokens, 0...1_000_000), ("max_delay_ms", maxDelayMs, 0...60_000),
            ("max_request_seconds", maxRequestSeconds, 1...86_400), ("max_choices", maxChoices, 1...1024),
            ("max_body_bytes", maxBodyBytes, 64...(1 << 30)),
            ("max_connections", maxConnections, 1...100_000), ("max_connections_per_ip", maxConnectionsPerIp, 0...100_000),
            ("connection_timeout_seconds", connectionTimeoutSeconds, 0...86_400),
            ("connection_memory_bytes", connectionMemoryBytes, 4096...(1 << 30)),
            ("drain_timeout_seconds", drainTimeoutSeconds, 0...86_400),
            ("request_receive_timeout_seconds", requestReceiveTimeoutSeconds, 1...86_400),
            ("write_timeout_seconds", writeTimeoutSeconds, 1...86_400),
            ("keep_alive_milliseconds", keepAliveMilliseconds, 50...600_000), ("threads", threads, 1...256),
            ("stream_flush_milliseconds", streamFlushMilliseconds, 0...1000),
        ]
        for (name, value, range) in checks where !range.contains(value) {
            throw ConfigError(description: "setting \(name) must be from \(range.lowerBound) to \(range.upperBound) (got \(value))")
        }
        guard promptStallFactor == 0 || (1.5...100).contains(promptStallFactor) else {
            throw ConfigError(description: "setting prompt_stall_factor must be 0 (prompts run whole) or from 1.5 to 100 (got \(promptStallFactor))")
        }
        if chatTemplate.turnMarker.isEmpty {
            throw ConfigError(description: "settings chat_separator and chat_user_prefix must not both be empty: together they mark the user's turn, where a chat reply stops")
        }
    }

    /// Settings that work but defeat a limit, for a warning at start-up.
    public var warnings: [String] {
        guard maxConnectionsPerIp > 0 else { return [] }
        var found: [String] = []
        if maxConnectionsPerIp <= maxActive + maxQueued {
            found.append("max_connections_per_ip \(maxConnectionsPerIp) is not above max_active + max_queued (\(maxActive + maxQueued)): one client's extra connections are dropped without the 503 queue_full answer")
        }
        if maxConnectionsPerIp >= maxConnections {
            found.append("max_connections_per_ip \(maxConnectionsPerIp) is not below max_connections \(maxConnections): one address can take every connection")
        }
        return found
    }

    /// The built-in defaults with the `defaults.*` settings applied, each
    /// checked as the same field of a request is, with the same words
    /// (`setting "defaults.top_k"` for `field "top_k"`), against the loaded model.
    public func generationDefaults(for model: GPTConfig) throws(ConfigError) -> GenerationDefaults {
        let given = JSONObject(members: defaults.values.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) })
        let fields = RequestFields(object: given, label: { "setting \"defaults.\($0)\"" }, nullIsAbsent: false)
        let limits = FieldLimits(model: model, server: self)
        var values = GenerationDefaults()
        do throws(APIError) {
            for field in GenerationField.all where field.configurable {
                try field.read(from: fields, into: &values, limits: limits)
            }
        } catch {
            throw ConfigError(description: error.message)
        }
        do throws(SettingsError) {
            try values.settings.validate(for: model)
        } catch {
            throw ConfigError(description: "setting \"defaults.\(error.field)\" \(error.problem)")
        }
        return values
    }
}

import ArgumentParser
import Foundation
import GPT
import HTTP
import InferenceServer
import Logging

/// `gpt-server`: reads the configuration, starts listening, loads the model,
/// and drains in-flight streams on SIGINT/SIGTERM. Wiring only.
struct Server: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt-server",
        abstract: "Serve a GPT-2 model over HTTP: POST /generate streams tokens as they are produced.",
        discussion: """
        Settings come from, in increasing priority: built-in defaults, the config file \
        (config/server.json), environment variables (GPT_SERVER_PORT, GPT_SERVER_DEFAULTS_TOP_K, ...), \
        then these flags.
        """
    )

    @Option(help: "Config file (default: config/server.json when it exists).") var config: String?
    @Option(help: "Address to listen on.") var host: String?
    @Option(help: "Port to listen on (0 = any free port).") var port: Int?
    @Option(name: .customLong("ckpt"), help: "Model: a GGUF file, an llm.c checkpoint, or a Hugging Face folder (recognised from the content).")
    var checkpoint: String?
    @Option(help: "tokenizer.json file (default: the model's own, or the tokenizer.json beside it).") var tokenizer: String?
    @Option(name: .customLong("set"), help: "Any setting as KEY=VALUE, e.g. max_active=8 or defaults.top_k=40 (repeatable).")
    var overrides: [String] = []
    @Flag(name: .customLong("print-request-fields"), help: .hidden) var printRequestFields = false

    func run() throws {
        // Diagnostic: the table of /generate's fields as JSON (see scripts/fields_test.py).
        if printRequestFields {
            FileHandle.standardOutput.write(Data(RequestFieldTable.json() + [10]))
            return
        }
        let settings: ServerConfig
        do {
            settings = try loadConfig()
        } catch {
            fail("\(error)", status: 2)
        }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "gpt-server")
        logger.logLevel = .info
        for warning in settings.warnings { logger.warning("\(warning)") }
        ComputeThreads.set(settings.threads)

        let router = Router(config: settings, logger: logger)
        let limits = ServerLimits(maxConnections: settings.maxConnections, maxConnectionsPerIP: settings.maxConnectionsPerIp,
                                  connectionTimeoutSeconds: settings.connectionTimeoutSeconds,
                                  memoryLimitPerConnection: settings.connectionMemoryBytes, maxBodyBytes: settings.maxBodyBytes,
                                  requestReceiveTimeoutSeconds: settings.requestReceiveTimeoutSeconds,
                                  writeTimeoutSeconds: settings.writeTimeoutSeconds)
        let server: HTTPServer
        do {
            server = try HTTPServer(host: settings.host, port: settings.port, limits: limits) { await router.handle($0) }
        } catch {
            fail("cannot listen on \(settings.host):\(settings.port): \(error)", status: 1)
        }

        let paths = modelPaths(settings)
        let textModel: TextModel
        do {
            try RegularFile.require(paths.checkpoint, role: "checkpoint", folderAllowed: true)
            if !paths.tokenizer.isEmpty { try RegularFile.require(paths.tokenizer, role: "tokenizer") }
            textModel = try TextModel(checkpointPath: paths.checkpoint, tokenizerPath: paths.tokenizer.isEmpty ? nil : paths.tokenizer,
                                      hugePages: settings.hugePages)
        } catch {
            server.stop()
            fail("cannot load the model: \(error)", status: 1)
        }
        do {
            try router.modelLoaded(textModel)
        } catch {
            server.stop()
            fail("\(error)", status: 2)
        }
        let shape = textModel.config
        if settings.hugePages && !textModel.inHugePages {
            logger.warning("huge_pages is set but the kernel offers no transparent huge pages: the weights are read from the mapped file",
                           metadata: ["checkpoint": "\(paths.checkpoint)"])
        }
        if textModel.tokenizer.vocabularySize < shape.vocabularySize {
            logger.warning("the tokenizer is smaller than the model's vocabulary: ids it lacks decode to no text", metadata: [
                "tokenizer_ids": "\(textModel.tokenizer.vocabularySize)", "model_vocab": "\(shape.vocabularySize)",
                "tokenizer": "\(paths.tokenizer)", "checkpoint": "\(paths.checkpoint)",
            ])
        }
        logger.info("listening", metadata: [
            "url": "http://\(settings.host):\(server.port)", "checkpoint": "\(paths.checkpoint)",
            "format": "\(textModel.format)", "weight_type": "\(textModel.weightType)", "huge_pages": "\(textModel.inHugePages)",
            "output": "\(textModel.model.weights.outputKind)", "tokenizer": "\(textModel.tokenizerPath)",
            "layers": "\(shape.layers)", "channels": "\(shape.channels)", "vocab": "\(shape.vocabularySize)",
            "kernels": "\(InstructionSet.inUse.rawValue)",
        ])
        // The port line on stdout lets scripts (and tests) find an ephemeral port.
        FileHandle.standardOutput.write(Data("gpt-server listening on http://\(settings.host):\(server.port)\n".utf8))

        // A queue of its own: the global queue's threads are few (one per core)
        // and can all be blocked, and then a signal would wait unseen.
        let signalQueue = DispatchQueue(label: "gpt-server.signals")
        let signals = [SIGINT, SIGTERM].map { (number: Int32) -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: signalQueue)
            source.setEventHandler {
                shutDown(server: server, router: router, settings: settings, logger: logger)
            }
            source.resume()
            return source
        }
        withExtendedLifetime(signals) { dispatchMain() }
    }

    /// Stops accepting, drains, and exits within `drain_timeout_seconds` plus
    /// a few seconds, whatever the clients do: after the drain timeout the
    /// generations still running are cancelled (their clients get a last
    /// message saying so), and a watchdog ends the process should anything
    /// still hold it (a client that stopped reading, an exit handler that hangs).
    func shutDown(server: HTTPServer, router: Router, settings: ServerConfig, logger: Logger) {
        let drainTimeout = TimeInterval(settings.drainTimeoutSeconds)
        logger.info("shutting down", metadata: ["drain_timeout_s": "\(settings.drainTimeoutSeconds)"])
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: drainTimeout + Self.shutdownGraceSeconds)
            logger.error("shutdown overran its bound; exiting now",
                         metadata: ["bound_s": "\(drainTimeout + Self.shutdownGraceSeconds)"])
            _exit(1)
        }
        let deadline = Date(timeIntervalSinceNow: drainTimeout)
        server.stopAccepting()
        // First the generations, then the bytes still on their way to clients.
        var drained = router.drain(timeout: drainTimeout)
        if !drained {
            let cancelled = router.cancelGenerations()
            logger.warning("drain timeout: cancelling the generations still running", metadata: ["cancelled": "\(cancelled)"])
            // Each ends before its next token; a window pass of a large model is the longest wait.
            drained = router.drain(timeout: Self.shutdownGraceSeconds / 2)
        }
        // Their last messages on their way; a client that stopped reading is not waited for long.
        let flushed = server.waitUntilIdle(timeout: max(drained ? 0.5 : 0.2, deadline.timeIntervalSinceNow))
        server.stop()
        logger.info("stopped", metadata: ["drained": "\(drained)", "all_responses_sent": "\(flushed)"])
        Foundation.exit(0)
    }

    /// Seconds past the drain timeout that a shutdown may take at most.
    static let shutdownGraceSeconds: TimeInterval = 5

    func loadConfig() throws -> ServerConfig {
        var loader = ConfigLoader()
        let defaultFile = "config/server.json"
        if let config {
            try RegularFile.require(config, role: "config file")
            try loader.apply(file: config)
        } else if FileManager.default.fileExists(atPath: defaultFile) {
            try RegularFile.require(defaultFile, role: "config file")
            try loader.apply(file: defaultFile)
        }
        try loader.apply(environment: ProcessInfo.processInfo.environment)
        let flags: [(String, String?)] = [("host", host), ("port", port.map(String.init)),
                                          ("checkpoint", checkpoint), ("tokenizer", tokenizer)]
        for (key, value) in flags {
            if let value { try loader.set(key, text: value, source: "--\(key)") }
        }
        for override in overrides { try loader.apply(override: override, source: "--set") }
        let settings = try loader.config()
        try settings.validate()
        return settings
    }

    /// The configured files; the default relative paths also find the bundled
    /// model when the server is started from another directory.
    func modelPaths(_ settings: ServerConfig) -> (checkpoint: String, tokenizer: String) {
        let defaults = ServerConfig()
        var paths = (checkpoint: settings.checkpoint, tokenizer: settings.tokenizer)
        if paths.checkpoint == defaults.checkpoint, !FileManager.default.fileExists(atPath: paths.checkpoint),
           let bundled = BundledModel.locate() {
            paths.checkpoint = bundled.appendingPathComponent("gpt_checkpoint.bin").path
        }
        return paths
    }

    func fail(_ message: String, status: Int32) -> Never {
        FileHandle.standardError.write(Data("gpt-server: error: \(message)\n".utf8))
        Foundation.exit(status)
    }
}

Server.main()

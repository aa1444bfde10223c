/// Parameters held in memory rather than mapped from a file: a synthetic
/// benchmark model today, a trainer's weights later.
public final class ParameterStore: @unchecked Sendable {  // callers coordinate writes (a trainer between steps)
    public let config: GPTConfig
    public let parameters: UnsafeMutableBufferPointer<Float>

    /// Zeroed parameters for `config`.
    public init(config: GPTConfig) {
        self.config = config
        parameters = .allocate(capacity: config.parameterCount)
        parameters.initialize(repeating: 0)
    }

    /// Views for the model; they keep this store alive.
    public var weights: Weights {
        Weights(config: config, parameters: UnsafePointer(parameters.baseAddress!), owner: self)
    }

    deinit { parameters.deallocate() }
}

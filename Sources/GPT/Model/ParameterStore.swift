/// Parameters held in memory rather than mapped from a file: a synthetic
/// benchmark model today, a trainer's weights later.
public final class ParameterStore: @unchecked Sendable {  // callers coordinate writes (a trainer between steps)
    public let config: GPTConfig
    public let parameters: UnsafeMutableBufferPointer<Float>

    public init(config: GPTConfig, values: [Float]) {
        precondition(values.count == config.parameterCount, "expected \(config.parameterCount) parameters")
        self.config = config
        parameters = .allocate(capacity: values.count)
        _ = parameters.initialize(from: values)
    }

    /// Views for the model; they keep this store alive.
    public var weights: Weights {
        Weights(config: config, parameters: UnsafePointer(parameters.baseAddress!), owner: self)
    }

    deinit { parameters.deallocate() }
}

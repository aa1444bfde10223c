import HTTP

/// What a pulled stream body (``JobStream``, ``ChoicesStream``) keeps between
/// pulls: bytes encoded but not yet taken by the socket, whether the end has
/// been encoded, and when bytes last went out (keep-alive lines go out after a
/// silence).
struct StreamOutbox {
    var pending: [UInt8] = []
    var ended = false
    private(set) var lastSent = ContinuousClock.now

    /// The next piece for the socket. With nothing pending, `refill` encodes
    /// what came since the last pull first. Then: pending bytes (at most
    /// `maxBytes`), or the end, or, when nothing came, `.abort` after
    /// `cancel` if the client has gone, else `.notYet`.
    mutating func next(maxBytes: Int, client: ClientConnection, refill: (inout StreamOutbox) -> Void,
                       cancel: () -> Void) -> PulledPiece {
        if pending.isEmpty && !ended { refill(&self) }
        guard pending.isEmpty else {
            let count = min(maxBytes, pending.count)
            defer { pending.removeFirst(count) }
            lastSent = .now
            return .bytes(Array(pending.prefix(count)))
        }
        if ended { return .end }
        guard client.isConnected else {
            cancel()
            return .abort
        }
        return .notYet
    }

    /// Whether nothing has gone out for `interval`.
    func silent(for interval: Duration) -> Bool {
        ContinuousClock.now - lastSent >= interval
    }
}

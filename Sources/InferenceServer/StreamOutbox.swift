import HTTP

/// How a pulled stream body paces what it sends.
struct StreamPacing {
    /// Silence after which a queued request's stream sends a keep-alive line.
    var keepAlive: Duration
    /// Once a stream is under way, what comes within this time of its last
    /// piece waits for the rest of it and goes out with whatever else came:
    /// a fast stream then costs the connection's thread and the client a
    /// wake-up per piece, not per token. Zero sends every token as it comes.
    var flush: Duration
}

/// What a pulled stream body (``JobStream``, ``ChoicesStream``) keeps between
/// pulls: bytes encoded but not yet taken by the socket, whether the end has
/// been encoded, and when bytes last went out (keep-alive lines go out after a
/// silence).
struct StreamOutbox {
    var pending: [UInt8] = []
    var ended = false
    /// Whether a token's bytes have been encoded. The first go out at once;
    /// later ones may wait to go out together (``gatherUntil(flush:)``).
    private(set) var underWay = false
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

    /// Adds a token's encoding; a token that ends inside a character
    /// encodes to nothing and does not put the stream under way.
    mutating func add(token bytes: [UInt8]) {
        pending += bytes
        underWay = underWay || !bytes.isEmpty
    }

    /// Until when what just came waits for more: `flush` after the last
    /// piece sent, once the stream is under way; nil when it goes now.
    func gatherUntil(flush: Duration) -> ContinuousClock.Instant? {
        guard underWay, flush > .zero else { return nil }
        let deadline = lastSent + flush
        return deadline > .now ? deadline : nil
    }

    /// Whether nothing has gone out for `interval`.
    func silent(for interval: Duration) -> Bool {
        ContinuousClock.now - lastSent >= interval
    }
}

/// A response body that the connection's own thread pulls, piece by piece,
/// whenever the client can take more: no thread of its own and no buffer
/// between the source and the socket, so each piece crosses one hand-off
/// (from whoever produces it to the connection's thread).
///
/// Used through ``HTTPResponse/Body/pull(_:)``. Both methods are called on
/// the connection's thread (``closed(delivered:)`` possibly on the server's
/// when it stops), never at the same time.
public protocol PulledBody: AnyObject, Sendable {
    /// The next piece, at most `maxBytes` long. Called only when the socket
    /// can take more. May wait a little (a tenth of a second or so) for
    /// something to send; ``PulledPiece/notYet`` when nothing came, and the
    /// server asks again.
    func next(maxBytes: Int) -> PulledPiece

    /// The response is over: `delivered` is true if the body was sent to its
    /// end, false if the connection failed or the response was never sent.
    /// Called exactly once.
    func closed(delivered: Bool)
}

/// What a ``PulledBody`` hands the connection's thread.
public enum PulledPiece: Sendable, Equatable {
    /// Bytes to send (an empty array counts as ``notYet``).
    case bytes([UInt8])
    /// Nothing yet; ask again.
    case notYet
    /// The body is complete.
    case end
    /// Give up: the body cannot be completed (its client left); the
    /// connection is closed without the final chunk.
    case abort
}

import Glibc

/// Why an ``HTTPServer`` could not start.
public enum HTTPServerError: Error, Equatable, CustomStringConvertible {
    /// Another socket already listens on this port.
    case portInUse(host: String, port: Int)
    /// The host is not an address of this machine (or not resolvable).
    case addressUnavailable(host: String, reason: String)
    /// The port is outside 0...65535.
    case invalidPort(Int)
    /// A socket call failed; `errno` as reported by the system.
    case socketFailure(operation: String, errno: Int32)
    /// libmicrohttpd refused to start (e.g. out of threads or memory).
    case daemonStartFailed

    /// A one-line explanation, e.g. `port 8080 is in use (on 0.0.0.0)`.
    public var description: String {
        switch self {
        case .portInUse(let host, let port):
            return "port \(port) is in use (on \(host))"
        case .addressUnavailable(let host, let reason):
            return "cannot listen on \(host): \(reason)"
        case .invalidPort(let port):
            return "invalid port \(port): must be 0...65535"
        case .socketFailure(let operation, let code):
            return "\(operation) failed: \(String(cString: strerror(code)))"
        case .daemonStartFailed:
            return "libmicrohttpd failed to start the HTTP daemon"
        }
    }
}

/// Names of the threads the HTTP layer runs, as `top -H`, perf and
/// /proc/<pid>/task/*/comm show them (Linux allows 15 characters).
enum ThreadNames {
    /// libmicrohttpd's thread for one connection: runs the access handler,
    /// waits for the async handler, then feeds the response body.
    static let connection = "http-connection"
    /// Runs a stream's producer (see `ResponseBodyWriter.start`).
    static let producer = "http-producer"
    /// Cuts off connections whose request is overdue (see `ReceiveDeadlines`).
    static let receiveWatchdog = "http-deadlines"
}

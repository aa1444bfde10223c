/// The browser front end served at `GET /`: one self-contained page (inline CSS
/// and JavaScript, nothing fetched from elsewhere) that streams `POST /generate`
/// as NDJSON and shows the tokens as they arrive, coloured by probability.
/// It is a real HTML file (`Resources/index.html`, edited and linted as HTML)
/// compiled into the binary by SwiftPM's `embedInCode` rule.
///
/// `?api=http://host:port` points the page at another server (default: the
/// page's own origin). An API key, once asked for after a 401, is kept in
/// localStorage per API origin and sent as `Authorization: Bearer <key>`.
enum WebPage {
    static let html = String(decoding: PackageResources.index_html, as: UTF8.self)
}

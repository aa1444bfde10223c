import Foundation
import HTTPTestSupport
import Testing
@testable import HTTP

extension HTTPServerTests {
    /// What clients that do not play by the rules get: smuggling attempts are
    /// refused and closed, trickled requests are cut off, and a half-close is
    /// not mistaken for a hang-up.
    @Suite struct HostileClientTests {
        static let echo: @Sendable (HTTPRequest) async -> HTTPResponse = { request in
            .full(status: 200, headers: [], body: request.body)
        }

        /// Framing that two readers of one byte stream could read differently.
        @Test(arguments: [
            ("Content-Length: 2\r\nContent-Length: 5\r\n", "hi", 400, "Content-Length appears 2 times"),
            ("Content-Length: 2\r\nContent-Length: 2\r\n", "hi", 400, "Content-Length appears 2 times"),
            ("Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", "2\r\nhi\r\n0\r\n\r\n", 400, "together are ambiguous"),
            ("Transfer-Encoding: gzip\r\n", "hi", 501, "Transfer-Encoding gzip is not supported"),
            ("Transfer-Encoding: gzip, chunked\r\n", "2\r\nhi\r\n0\r\n\r\n", 501, "not supported"),
            ("Authorization: Bearer KEY\u{7F}junk\r\nContent-Length: 2\r\n", "hi", 400, "header authorization holds a control character"),
            ("Origin: https://app.example\u{1}\r\nContent-Length: 2\r\n", "hi", 400, "header origin holds a control character"),
        ])
        func ambiguousFramingIsRefusedAndClosed(headers: String, body: String, status: Int, message: String) throws {
            let handled = Box(0)
            let server = try makeServer { request in
                handled.update { $0 += 1 }
                return .full(status: 200, headers: [], body: request.body)
            }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\n" + headers + "\r\n" + body)
            let head = try client.readHead()
            #expect(head.status == status)
            let text = try client.read(count: Int(head.headers["content-length"] ?? "0")!).text
            #expect(text.contains(message), "\(text)")
            #expect(client.waitForClose())
            #expect(handled.value == 0)
        }

        @Test func chunkedAloneIsStillAccepted() throws {
            let server = try makeServer(handler: Self.echo)
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
            let head = try client.readHead()
            #expect(head.status == 200)
            #expect(try client.read(count: 2).text == "hi")
        }

        /// Each byte restarts an idle timeout; the receive deadline counts from
        /// the connection's start, so a trickle is cut off mid-headers.
        @Test func tricklingHeadersAreCutOffAtTheReceiveDeadline() throws {
            let server = try makeServer(limits: ServerLimits(connectionTimeoutSeconds: 30, requestReceiveTimeoutSeconds: 1),
                                        handler: Self.echo)
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            let request = Array("GET / HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + String(repeating: "a", count: 100) + "\r\n\r\n")
            var sent = 0
            var cutOff = false
            while sent < request.count {
                do { try client.send(String(request[sent])) } catch { cutOff = true; break }
                sent += 1
                usleep(100_000)
                if sent % 5 == 0, client.waitForClose(timeout: 0.01) { cutOff = true; break }
            }
            #expect(cutOff, "the trickled request was sent whole (\(sent) bytes) without being cut off")
            // Others are served meanwhile, and afterwards.
            let other = try RawClient(port: server.port)
            try other.request("POST", "/", body: "ok")
            #expect(try other.readHead().status == 200)
        }

        @Test func aFloodOfEmptyLinesIsCutOffToo() throws {
            let server = try makeServer(limits: ServerLimits(requestReceiveTimeoutSeconds: 1), handler: Self.echo)
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            var cutOff = false
            for _ in 0..<400 {
                do { try client.send("\r\n") } catch { cutOff = true; break }
                usleep(20_000)
                if client.waitForClose(timeout: 0.001) { cutOff = true; break }
            }
            #expect(cutOff)
        }

        /// A keep-alive connection's next request gets the full time again.
        @Test func theDeadlineRestartsAfterEachResponse() throws {
            let server = try makeServer(limits: ServerLimits(requestReceiveTimeoutSeconds: 1), handler: Self.echo)
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            for round in 0..<3 {
                usleep(600_000)
                try client.request("POST", "/", body: "r\(round)")
                #expect(try client.readHead().status == 200)
                #expect(try client.read(count: 2).text == "r\(round)")
            }
        }

        /// A client that shuts down its sending side after the request still
        /// reads the whole answer; one that resets is noticed.
        @Test func halfCloseIsNotAHangUp() throws {
            let sawGone = Box(false)
            let server = try makeServer { request in
                for _ in 0..<20 {
                    try? await Task.sleep(nanoseconds: 50_000_000)
                    if !request.client.isConnected { sawGone.value = true }
                }
                return .stream(status: 200, headers: []) { writer in
                    for i in 0..<5 {
                        usleep(50_000)
                        writer.write("\(i)")
                    }
                }
            }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            client.shutdownWrite()
            #expect(try client.readHead().status == 200)
            #expect(try client.readChunkedBody().text == "01234")
            #expect(sawGone.value == false)
        }

        /// A stream whose client stops reading stalls once the socket's
        /// buffers are full; after the write timeout, writes fail.
        @Test func aClientThatStopsReadingStallsTheStream() throws {
            let stalled = Gate()
            let written = Box(0)
            let server = try makeServer(limits: ServerLimits(maxBufferedStreamBytes: 4096, writeTimeoutSeconds: 1)) { _ in
                .stream(status: 200, headers: []) { writer in
                    let line = [UInt8](repeating: UInt8(ascii: "x"), count: 1000)
                    while writer.write(line) { written.update { $0 += 1 } }
                    if writer.hasStalled { stalled.open() }
                }
            }
            defer { server.stop() }
            let client = try RawClient(port: server.port, receiveBuffer: 4096)
            try client.request("GET", "/")
            #expect(stalled.wait(timeout: 30))
            // Bounded by the buffers, not by the producer: a few hundred kB at most.
            #expect(written.value < 2000)
        }
    }
}

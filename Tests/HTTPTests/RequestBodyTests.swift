import Foundation
import HTTPTestSupport
import Testing
@testable import HTTP

extension HTTPServerTests {
    @Suite struct RequestBodyTests {
        /// Echoes the body; an oversized one is answered (with 413 and the
        /// count of bytes it was given) and counted in `refusals`, not `calls`.
        private static func echoServer(
            maxBody: Int, calls: Box<Int> = Box(0), refusals: Box<Int> = Box(0)
        ) throws -> HTTPServer {
            try makeServer(limits: ServerLimits(maxBodyBytes: maxBody)) { request in
                if request.bodyLimitExceeded {
                    refusals.update { $0 += 1 }
                    return .text(status: 413, "refused with \(request.body.count) bytes")
                }
                calls.update { $0 += 1 }
                return .full(status: 200, headers: [], body: request.body)
            }
        }

        /// The echo server's answer to an oversized body: its 413, given no body,
        /// then the connection closed; the handler saw only the refusal.
        private static func expectRefusal(on client: RawClient, calls: Box<Int>, refusals: Box<Int>) throws {
            let head = try client.readHead(timeout: 3)
            #expect(head.status == 413)
            #expect(head.headers["connection"]?.lowercased() == "close")
            let length = try #require(Int(head.headers["content-length"] ?? ""))
            #expect(try client.read(count: length).text == "refused with 0 bytes")
            #expect(client.waitForClose())
            #expect(calls.value == 0 && refusals.value == 1)
        }

        @Test func bodySentInSeveralPiecesIsAccumulated() throws {
            let server = try Self.echoServer(maxBody: 10_000)
            defer { server.stop() }
            let body = Array((0..<3000).map { UInt8(truncatingIfNeeded: $0 * 7) })
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
            for piece in stride(from: 0, to: body.count, by: 1000) {
                usleep(50_000)  // separate TCP segments, separate access-handler calls
                try client.send(Array(body[piece..<piece + 1000]))
            }
            let head = try client.readHead()
            #expect(head.status == 200)
            #expect(try client.read(count: body.count) == body)
        }

        @Test func chunkedUploadIsAccumulated() throws {
            let server = try Self.echoServer(maxBody: 10_000)
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in ["hello ", "chunked ", "world"] {
                usleep(30_000)
                try client.send(String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n")
            }
            try client.send("0\r\n\r\n")
            let head = try client.readHead()
            #expect(head.status == 200)
            #expect(try client.read(count: 19).text == "hello chunked world")
        }

        @Test func declaredOversizedBodyIsRefusedBeforeItIsSent() throws {
            let calls = Box(0)
            let refusals = Box(0)
            let server = try Self.echoServer(maxBody: 1000, calls: calls, refusals: refusals)
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            // Only the headers: the 413 must come without waiting for the body.
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")
            try Self.expectRefusal(on: client, calls: calls, refusals: refusals)
        }

        @Test func theConnectionClosesAfterAnOversizedBodyWhateverTheHandlerAnswers() throws {
            let server = try makeServer(limits: ServerLimits(maxBodyBytes: 100)) { _ in .text(status: 200, "fine") }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
            let head = try client.readHead(timeout: 3)
            #expect(head.status == 200)
            #expect(head.headers["connection"]?.lowercased() == "close")
            #expect(client.waitForClose())
        }

        @Test func expect100ContinueWithOversizedBodyGets413() throws {
            let server = try Self.echoServer(maxBody: 1000)
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n")
            #expect(try client.readHead(timeout: 3).status == 413)
        }

        @Test func undeclaredOversizedBodyIsRefusedWithoutBeingKept() throws {
            let calls = Box(0)
            let refusals = Box(0)
            let server = try Self.echoServer(maxBody: 1000, calls: calls, refusals: refusals)
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in 0..<3 {
                try client.send("320\r\n" + String(repeating: "y", count: 800) + "\r\n")
                usleep(20_000)
            }
            try client.send("0\r\n\r\n")
            try Self.expectRefusal(on: client, calls: calls, refusals: refusals)
        }

        @Test func endlessUndeclaredBodyIsCutOff() throws {
            let calls = Box(0)
            let refusals = Box(0)
            let server = try Self.echoServer(maxBody: 1000, calls: calls, refusals: refusals)
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            let piece = "10000\r\n" + String(repeating: "y", count: 0x10000) + "\r\n"
            // 4 MiB, well past the discard allowance; the server hangs up meanwhile.
            for _ in 0..<64 {
                guard (try? client.send(piece)) != nil else { break }
            }
            #expect(client.waitForClose())
            #expect(calls.value == 0 && refusals.value == 0)
        }

        @Test func bodyExactlyAtTheLimitIsAccepted() throws {
            let server = try Self.echoServer(maxBody: 1000)
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            let body = String(repeating: "z", count: 1000)
            try client.request("POST", "/echo", body: body)
            #expect(try client.readHead().status == 200)
            #expect(try client.read(count: 1000).text == body)
        }
    }
}

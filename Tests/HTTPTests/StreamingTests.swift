import Foundation
import HTTPTestSupport
import Testing
@testable import HTTP

extension HTTPServerTests {
    @Suite struct StreamingTests {
        @Test func chunksArriveWhileTheProducerIsStillRunning() throws {
            let firstChunkRead = Gate()
            let server = try makeServer { _ in
                .stream(status: 200, headers: [("Content-Type", "text/event-stream")]) { writer in
                    writer.write("data: one\n\n")
                    // The test opens this only after it has read chunk 1, so chunk 1
                    // cannot have been held back until the end of the body.
                    guard firstChunkRead.wait() else { return }
                    writer.write("data: two\n\n")
                    writer.write(Array(repeating: UInt8(ascii: "x"), count: 20_000))
                    writer.finish()
                }
            }
            defer { server.stop() }

            let client = try RawClient(port: server.port)
            try client.request("GET", "/stream")
            let head = try client.readHead()
            #expect(head.status == 200)
            #expect(head.headers["transfer-encoding"] == "chunked")
            #expect(head.headers["content-length"] == nil)
            #expect(head.headers["content-type"] == "text/event-stream")
            #expect(try client.readChunk()?.text == "data: one\n\n")
            firstChunkRead.open()
            let rest = try client.readChunkedBody()
            #expect(rest.text == "data: two\n\n" + String(repeating: "x", count: 20_000))

            // The connection stays usable after a chunked body.
            try client.request("GET", "/again")
            #expect(try client.readHead().status == 200)
        }

        @Test func statusLineArrivesBeforeAnyBodyIsWritten() throws {
            let headRead = Gate()
            let producerStarted = Gate()
            let server = try makeServer { _ in
                .stream(status: 202, headers: [("X-Early", "1")]) { writer in
                    producerStarted.open()
                    guard headRead.wait() else { return }
                    writer.write("late")
                }
            }
            defer { server.stop() }

            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            // The head is complete although the producer has written nothing
            // (it is blocked until headRead opens).
            let head = try client.readHead(timeout: 3)
            #expect(producerStarted.wait())
            #expect(head.status == 202)
            #expect(head.headers["x-early"] == "1")
            headRead.open()
            #expect(try client.readChunkedBody().text == "late")
        }

        @Test func returningFromTheProducerEndsTheBody() throws {
            let server = try makeServer { _ in
                .stream(status: 200, headers: []) { writer in
                    writer.write("only")  // no finish()
                }
            }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            _ = try client.readHead()
            #expect(try client.readChunkedBody().text == "only")
        }

        @Test func sixteenConcurrentStreamsAllComplete() throws {
            let count = 16
            let started = Box(0)
            let allStarted = Gate()
            let server = try makeServer(limits: ServerLimits(maxConnections: 32)) { request in
                let id = request.query["id"] ?? "?"
                return .stream(status: 200, headers: []) { writer in
                    writer.write("start \(id);")
                    started.update { value in
                        value += 1
                        if value == count { allStarted.open() }
                    }
                    // Every producer is alive at once before any of them goes on.
                    guard allStarted.wait(timeout: 20) else { return }
                    for piece in 0..<5 {
                        guard writer.write("\(id).\(piece);") else { return }
                    }
                }
            }
            defer { server.stop() }

            let clients = try (0..<count).map { _ in try RawClient(port: server.port) }
            for (id, client) in clients.enumerated() { try client.request("GET", "/s?id=\(id)") }
            var firstChunks: [String] = []
            for client in clients {
                #expect(try client.readHead(timeout: 20).status == 200)
                firstChunks.append(try #require(try client.readChunk(timeout: 20)).text)
            }
            #expect(allStarted.wait(timeout: 20))
            for (id, client) in clients.enumerated() {
                // The last producer to start may write on before its first chunk
                // went out, so its pieces can share a chunk; compare whole bodies.
                #expect(firstChunks[id].hasPrefix("start \(id);"))
                let body = try firstChunks[id] + client.readChunkedBody(timeout: 20).text
                #expect(body == "start \(id);" + (0..<5).map { "\(id).\($0);" }.joined())
            }
        }

        @Test func waitingForTheHandlerOrTheProducerDoesNotSpin() throws {
            let server = try makeServer { _ in
                try? await Task.sleep(nanoseconds: 600_000_000)
                return .stream(status: 200, headers: []) { writer in
                    usleep(600_000)
                    writer.write("late")
                }
            }
            defer { server.stop() }
            let before = cpuSecondsByThread(named: ThreadNames.connection)
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            _ = try client.readHead()
            #expect(try client.readChunkedBody().text == "late")
            // 1.2 s of waiting on the connection's thread (alive while the
            // client keeps the connection open); a busy loop there would burn
            // about that much CPU.
            let after = cpuSecondsByThread(named: ThreadNames.connection)
            #expect(after.keys.contains { before[$0] == nil }, "no new connection thread found")
            let used = after.reduce(0) { $0 + $1.value - (before[$1.key] ?? 0) }
            #expect(used < 0.3, "connection threads used \(used) s of CPU while waiting")
        }

        @Test func http10ClientGetsTheStreamUntilTheConnectionCloses() throws {
            let server = try makeServer { _ in
                .stream(status: 200, headers: []) { writer in
                    writer.write("a")
                    writer.write("b")
                }
            }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.send("GET / HTTP/1.0\r\n\r\n")
            let head = try client.readHead()
            #expect(head.status == 200)
            #expect(head.headers["transfer-encoding"] == nil)
            var body: [UInt8] = []
            while let byte = try? client.read(count: 1) { body += byte }
            #expect(body.text == "ab")
        }
    }
}

import Foundation
import HTTPTestSupport
import Testing
@testable import HTTP

extension HTTPServerTests {
    @Suite struct DisconnectTests {
        @Test func writeReturnsFalseSoonAfterTheClientHangsUpMidStream() throws {
            let producerStopped = Gate()
            let hungUp = Box(false)
            let writesAfterHangUp = Box(0)
            let server = try makeServer { _ in
                .stream(status: 200, headers: []) { writer in
                    var wrote = 0
                    while writer.write("token \(wrote) ") {
                        wrote += 1
                        if hungUp.value { writesAfterHangUp.update { $0 += 1 } }
                        usleep(10_000)
                    }
                    // Writing again after the client has gone stays safe.
                    #expect(!writer.write("more"))
                    #expect(!writer.isClientConnected)
                    producerStopped.open()
                }
            }
            defer { server.stop() }

            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            _ = try client.readHead()
            _ = try client.readChunk()
            hungUp.value = true
            client.close()
            #expect(producerStopped.wait(timeout: 5))
            // The socket probe in write() catches the hang-up at the next write
            // (counted, not timed: this machine is shared and its clock noisy).
            #expect(writesAfterHangUp.value <= 2)
        }

        @Test func clientGoneWhileTheHandlerIsStillThinking() throws {
            let handlerStarted = Gate()
            let noticed = Gate()
            let wasCancelled = Box(false)
            let server = try makeServer { request in
                handlerStarted.open()
                let deadline = Date(timeIntervalSinceNow: 10)
                while request.client.isConnected && Date() < deadline {
                    try? await Task.sleep(nanoseconds: 10_000_000)
                }
                if !request.client.isConnected { noticed.open() }
                // The connection thread cancels the handler's Task once it sees the hang-up.
                try? await Task.sleep(nanoseconds: 300_000_000)
                wasCancelled.value = Task.isCancelled
                return .text(status: 200, "too late")
            }
            defer { server.stop() }

            let client = try RawClient(port: server.port)
            try client.request("POST", "/slow", body: "{}")
            #expect(handlerStarted.wait())
            client.abort()
            #expect(noticed.wait(timeout: 3))
            #expect(eventually(timeout: 3) { wasCancelled.value })
        }

        @Test func streamAnsweredAfterTheClientLeftStillRunsItsProducerOnce() throws {
            let handlerStarted = Gate()
            let producerRuns = Box(0)
            let producerWriteResult = Box<Bool?>(nil)
            let producerDone = Gate()
            let server = try makeServer { request in
                handlerStarted.open()
                while request.client.isConnected { try? await Task.sleep(nanoseconds: 10_000_000) }
                return .stream(status: 200, headers: []) { writer in
                    producerRuns.update { $0 += 1 }
                    producerWriteResult.value = writer.write("nobody listens")
                    producerDone.open()
                }
            }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            #expect(handlerStarted.wait())
            client.abort()
            #expect(producerDone.wait())
            usleep(100_000)
            #expect(producerRuns.value == 1)
            #expect(producerWriteResult.value == false)
        }

        @Test func clientGoneBeforeTheFirstStreamWrite() throws {
            let noticedByProbe = Gate()
            let noticedByCallback = Gate()
            let server = try makeServer { _ in
                .stream(status: 200, headers: []) { writer in
                    writer.onClientGone { noticedByCallback.open() }
                    // Simulates a long prompt evaluation: no bytes to send yet.
                    let deadline = Date(timeIntervalSinceNow: 10)
                    while writer.isClientConnected && Date() < deadline { usleep(10_000) }
                    if !writer.isClientConnected { noticedByProbe.open() }
                }
            }
            defer { server.stop() }

            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            #expect(try client.readHead().status == 200)
            client.abort()
            #expect(noticedByProbe.wait(timeout: 3))
            #expect(noticedByCallback.wait(timeout: 3))
        }

        @Test func onClientGoneFiresWhileTheProducerIsBlocked() throws {
            // The producer does not probe at all; the connection thread, waiting
            // for bytes, must notice by itself.
            let gone = Gate()
            let release = Gate()
            let server = try makeServer { _ in
                .stream(status: 200, headers: []) { writer in
                    writer.onClientGone { gone.open() }
                    release.wait(timeout: 10)
                }
            }
            defer {
                release.open()
                server.stop()
            }
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            _ = try client.readHead()
            client.abort()
            #expect(gone.wait(timeout: 3))
        }

        @Test func serverFreesRequestAndWriterAfterAHangUp() throws {
            let clientRef = WeakBox<ClientConnection>()
            let writerRef = WeakBox<ResponseBodyWriter>()
            let producerDone = Gate()
            let server = try makeServer { request in
                clientRef.object = request.client
                return .stream(status: 200, headers: []) { writer in
                    writerRef.object = writer
                    while writer.write("x") { usleep(5_000) }
                    producerDone.open()
                }
            }
            defer { server.stop() }

            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            _ = try client.readHead()
            _ = try client.readChunk()
            client.abort()
            #expect(producerDone.wait())
            #expect(eventually { clientRef.object == nil && writerRef.object == nil })
        }

        @Test func serverFreesRequestAndWriterAfterACompleteStream() throws {
            let clientRef = WeakBox<ClientConnection>()
            let writerRef = WeakBox<ResponseBodyWriter>()
            let server = try makeServer { request in
                clientRef.object = request.client
                return .stream(status: 200, headers: []) { writer in
                    writerRef.object = writer
                    writer.write("done")
                }
            }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            _ = try client.readHead()
            #expect(try client.readChunkedBody().text == "done")
            #expect(eventually { clientRef.object == nil && writerRef.object == nil })
            #expect(client.waitForClose(timeout: 0.3) == false)  // keep-alive: still open
        }
    }
}

import Foundation
import HTTPTestSupport
import Testing
@testable import HTTP

extension HTTPServerTests {
    @Suite struct LifecycleTests {
        @Test func stopAcceptingLetsTheRunningStreamFinishAndRefusesNewConnections() throws {
            let release = Gate()
            let server = try makeServer { _ in
                .stream(status: 200, headers: []) { writer in
                    writer.write("first")
                    guard release.wait(timeout: 10) else { return }
                    writer.write("second")
                }
            }
            defer { server.stop() }

            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            _ = try client.readHead()
            #expect(try client.readChunk()?.text == "first")

            server.stopAccepting()
            server.stopAccepting()  // idempotent
            var refusal: String?
            do {
                let late = try RawClient(port: server.port)
                try late.request("GET", "/")
                _ = try late.readHead(timeout: 1)
            } catch {
                refusal = String(describing: error)
            }
            #expect(refusal?.contains("refused") == true, "got \(refusal ?? "a response")")

            release.open()
            #expect(try client.readChunkedBody().text == "second")
        }

        @Test func portInUseIsAClearError() throws {
            let first = try makeServer { _ in .text(status: 200, "") }
            defer { first.stop() }
            #expect(first.port > 0)
            do {
                _ = try HTTPServer(host: "127.0.0.1", port: first.port) { _ in .text(status: 200, "") }
                Issue.record("second server on the same port started")
            } catch {
                #expect(error == .portInUse(host: "127.0.0.1", port: first.port))
                #expect(error.description == "port \(first.port) is in use (on 127.0.0.1)")
            }
        }

        @Test func badHostAndPortAreClearErrors() {
            #expect(throws: HTTPServerError.invalidPort(70000)) {
                _ = try HTTPServer(port: 70000) { _ in .text(status: 200, "") }
            }
            #expect {
                _ = try HTTPServer(host: "203.0.113.7", port: 0) { _ in .text(status: 200, "") }
            } throws: { error in
                (error as? HTTPServerError).map { "\($0)".contains("cannot listen on 203.0.113.7") } ?? false
            }
        }

        @Test func stopReturnsPromptlyWithStuckHandlersAndStreams() throws {
            let handlerRunning = Gate()
            let streamRunning = Gate()
            let producerSawFailure = Gate()
            let server = try makeServer { request in
                if request.path == "/stuck-handler" {
                    handlerRunning.open()
                    try? await Task.sleep(nanoseconds: 30_000_000_000)  // cancelled by stop()
                    return .text(status: 200, "never sent")
                }
                return .stream(status: 200, headers: []) { writer in
                    streamRunning.open()
                    while writer.isClientConnected { usleep(10_000) }
                    if !writer.write("x") { producerSawFailure.open() }
                }
            }
            let a = try RawClient(port: server.port)
            try a.request("GET", "/stuck-handler")
            let b = try RawClient(port: server.port)
            try b.request("GET", "/stuck-stream")
            #expect(handlerRunning.wait())
            #expect(streamRunning.wait())

            let started = Date()
            server.stop()
            #expect(Date().timeIntervalSince(started) < 10)  // not the handler's 30 s
            server.stop()  // idempotent
            #expect(producerSawFailure.wait(timeout: 3))
            #expect(a.waitForClose())
        }

        @Test func stoppedServersLeaveNoDescriptorsOpen() throws {
            // Other suites run in parallel in this process and open and close
            // descriptors of their own, so an exact before/after count is noisy.
            // A leak grows with the number of servers, the noise does not:
            // after 60 rounds that each leaked even one descriptor the count
            // would be up by 60, far beyond what the other tests hold at once.
            func openDescriptors() -> Int {
                (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
            }
            let rounds = 60
            let before = openDescriptors()
            for round in 0..<rounds {
                let server = try makeServer { _ in .text(status: 200, "ok") }
                let client = try RawClient(port: server.port)
                try client.request("GET", "/")
                #expect(try client.readHead().status == 200)
                if round.isMultiple(of: 2) { server.stopAccepting() }
                server.stop()
                client.close()
            }
            let growth = openDescriptors() - before
            #expect(growth < rounds / 2, "\(growth) more descriptors open after \(rounds) servers")
        }

        @Test func dualStackServerAnswersIPv4Clients() throws {
            let server = try HTTPServer(host: "::", port: 0) { request in .text(status: 200, request.remoteAddress) }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            let head = try client.readHead()
            #expect(head.status == 200)
            let length = try #require(Int(head.headers["content-length"] ?? ""))
            #expect(try client.read(count: length).text == "::ffff:127.0.0.1")
        }

        @Test func invalidStatusBecomes500() throws {
            let server = try makeServer { _ in .text(status: 42, "odd") }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            #expect(try client.readHead().status == 500)
        }
    }
}

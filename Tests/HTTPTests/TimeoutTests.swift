import Foundation
import HTTPTestSupport
import Testing
@testable import HTTP

extension HTTPServerTests {
    @Suite struct TimeoutTests {
        @Test func slowHandlerLongerThanTheIdleTimeoutStillAnswers() throws {
            let server = try makeServer(limits: ServerLimits(connectionTimeoutSeconds: 1)) { _ in
                try? await Task.sleep(nanoseconds: 1_600_000_000)
                return .text(status: 200, "slow")
            }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            let head = try client.readHead(timeout: 6)
            #expect(head.status == 200)
            #expect(try client.read(count: 4).text == "slow")
        }

        @Test func streamPausingLongerThanTheIdleTimeoutGoesOn() throws {
            let server = try makeServer(limits: ServerLimits(connectionTimeoutSeconds: 1)) { _ in
                .stream(status: 200, headers: []) { writer in
                    usleep(1_600_000)
                    writer.write("a")
                    usleep(1_600_000)
                    writer.write("b")
                }
            }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            _ = try client.readHead(timeout: 6)
            #expect(try client.readChunkedBody(timeout: 6).text == "ab")
        }

        @Test func idleKeepAliveConnectionIsClosedAfterTheTimeout() throws {
            let server = try makeServer(limits: ServerLimits(connectionTimeoutSeconds: 1)) { _ in .text(status: 200, "") }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            #expect(client.waitForClose(timeout: 4))
        }
    }
}

import Foundation
import HTTPTestSupport
import Testing
@testable import HTTP

extension HTTPServerTests {
    @Suite struct ConnectionLimitTests {
        @Test func connectionsBeyondThePerIPLimitAreClosed() throws {
            let server = try makeServer(limits: ServerLimits(maxConnections: 10, maxConnectionsPerIP: 2)) { _ in
                .text(status: 200, "ok")
            }
            defer { server.stop() }
            let first = try RawClient(port: server.port)
            let second = try RawClient(port: server.port)
            // Make sure both are accepted (and counted) before the third one.
            for client in [first, second] {
                try client.request("GET", "/")
                #expect(try client.readHead().status == 200)
                _ = try client.read(count: 2)
            }
            let third = try RawClient(port: server.port)
            #expect(third.waitForClose(timeout: 3))
        }

        @Test func connectionsBeyondTheTotalLimitAreClosed() throws {
            let server = try makeServer(limits: ServerLimits(maxConnections: 1)) { _ in .text(status: 200, "ok") }
            defer { server.stop() }
            let first = try RawClient(port: server.port)
            try first.request("GET", "/")
            #expect(try first.readHead().status == 200)
            let second = try RawClient(port: server.port)
            #expect(second.waitForClose(timeout: 3))
        }
    }
}

import Foundation
import HTTPTestSupport
import Testing
@testable import HTTP

extension HTTPServerTests {
    @Suite struct FullResponseTests {
        @Test func fullResponseHasStatusHeadersBodyAndContentLength() throws {
            let seen = Box<HTTPRequest?>(nil)
            let server = try makeServer { request in
                seen.value = request
                return .full(status: 201, headers: [("Content-Type", "text/plain"), ("X-Reply", "yes")], body: Array("hello, world".utf8))
            }
            defer { server.stop() }

            let client = try RawClient(port: server.port)
            try client.request("GET", "/greet/%7Euser?name=J%C3%BCrgen&flag&n=1", headers: ["X-Test: a", "X-Test: b", "Accept: */*"])
            let head = try client.readHead()
            #expect(head.status == 201)
            #expect(head.headers["content-type"] == "text/plain")
            #expect(head.headers["x-reply"] == "yes")
            #expect(head.headers["content-length"] == "12")
            #expect(head.headers["transfer-encoding"] == nil)
            #expect(try client.read(count: 12).text == "hello, world")

            let request = try #require(seen.value)
            #expect(request.method == "GET")
            #expect(request.path == "/greet/~user")
            #expect(request.query == ["name": "Jürgen", "flag": "", "n": "1"])
            #expect(request.headers["x-test"] == "a, b")
            #expect(request.header("Accept") == "*/*")
            #expect(request.remoteAddress == "127.0.0.1")
            #expect(request.body.isEmpty)
        }

        @Test func keepAliveServesSeveralRequestsOnOneConnection() throws {
            let server = try makeServer { request in .text(status: 200, request.path) }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            for path in ["/a", "/bb", "/ccc"] {
                try client.request("GET", path)
                let head = try client.readHead()
                #expect(head.status == 200)
                let length = try #require(Int(head.headers["content-length"] ?? ""))
                #expect(try client.read(count: length).text == path)
            }
        }

        @Test func emptyBodyAndManagedHeadersAreHandled() throws {
            let server = try makeServer { _ in
                // A stray Content-Length from the handler must not clash with the real one.
                .full(status: 200, headers: [("Content-Length", "99")], body: [])
            }
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.request("GET", "/")
            let head = try client.readHead()
            #expect(head.status == 200)
            #expect(head.headers["content-length"] == "0")
        }

        @Test func jsonErrorEscapesItsText() {
            let response = HTTPResponse.jsonError(status: 400, code: "bad", message: "say \"hi\"\n")
            guard case .bytes(let body) = response.body else {
                Issue.record("expected a full response")
                return
            }
            #expect(response.status == 400)
            #expect(response.headers.contains { $0 == ("Content-Type", "application/json") })
            #expect(body.text == #"{"error":{"code":"bad","message":"say \"hi\"\n"}}"#)
        }
    }
}

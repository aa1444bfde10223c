import Foundation
import Testing
@testable import HTTP

extension HTTPServerTests {
    /// The writer on its own, without sockets (its client is `.detached`).
    @Suite struct ResponseBodyWriterTests {
        @Test func chunksComeOutInOrderThenTheEnd() {
            let writer = ResponseBodyWriter(client: .detached, bufferLimit: 1024)
            #expect(writer.write("ab"))
            #expect(writer.write("cd"))
            #expect(writer.nextChunk(maxBytes: 3) == .bytes(Array("abc".utf8)))
            writer.finish()
            #expect(!writer.write("late"))
            #expect(writer.nextChunk(maxBytes: 100) == .bytes(Array("d".utf8)))
            #expect(writer.nextChunk(maxBytes: 100) == .end)
        }

        @Test func writeBlocksWhileTheBufferIsFull() {
            let writer = ResponseBodyWriter(client: .detached, bufferLimit: 4)
            #expect(writer.write("1234"))
            let secondWriteDone = Gate()
            Thread.detachNewThread {
                writer.write("5678")
                secondWriteDone.open()
            }
            #expect(!secondWriteDone.wait(timeout: 0.3))
            #expect(writer.nextChunk(maxBytes: 2) == .bytes(Array("12".utf8)))
            #expect(secondWriteDone.wait(timeout: 2))
            writer.finish()
            #expect(writer.nextChunk(maxBytes: 100) == .bytes(Array("345678".utf8)))
            #expect(writer.nextChunk(maxBytes: 100) == .end)
        }

        @Test func theReaderWaitsForTheProducer() {
            let writer = ResponseBodyWriter(client: .detached, bufferLimit: 1024)
            Thread.detachNewThread {
                usleep(200_000)
                writer.write("x")
            }
            let started = Date()
            #expect(writer.nextChunk(maxBytes: 10) == .bytes([UInt8(ascii: "x")]))
            #expect(Date().timeIntervalSince(started) > 0.15)
        }
    }
}

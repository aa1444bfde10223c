import Foundation
import Glibc

public struct ClientError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Status line and headers of a response, as read off the wire.
public struct ResponseHead {
    public var status: Int
    /// Lower-cased names.
    public var headers: [String: String]
}

/// A deliberately dumb HTTP/1.1 client on a raw POSIX socket, so the tests
/// can see chunk framing and timing exactly and can hang up at any moment.
public final class RawClient {
    private var fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port` from `source` (another loopback address
    /// plays another client), with a receive buffer of `receiveBuffer` bytes
    /// if given (a small one makes a client that stops reading show at once);
    /// throws (with errno) if refused.
    public init(port: Int, source: String? = nil, receiveBuffer: Int? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw ClientError("bind \(source): errno \(errno)") }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if status != 0 {
            let code = errno
            Glibc.close(fd)
            throw ClientError("connect: errno \(code)" + (code == ECONNREFUSED ? " (refused)" : ""))
        }
    }

    deinit { close() }

    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Shuts down the sending side only (a half-close): the request is out,
    /// the answer is still read.
    public func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes with a reset instead of a FIN, as a client that crashed or
    /// closed with unread data does: the server sees it at once.
    public func abort() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    public func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw ClientError("send: errno \(errno)") }
            offset += sent
        }
    }

    /// Receives more bytes into the buffer; false on end-of-file.
    private func fill(deadline: Date) throws -> Bool {
        let millis = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, millis) > 0 else { throw ClientError("timed out waiting for data") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if received < 0 { throw ClientError("recv: errno \(errno)") }
        buffer.append(contentsOf: chunk[0..<received])
        return received > 0
    }

    /// Bytes up to and including `delimiter`.
    public func read(until delimiter: String, timeout: Double = 5) throws -> [UInt8] {
        let needle = Array(delimiter.utf8)
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            if let end = find(needle) {
                let result = Array(buffer[..<end])
                buffer.removeFirst(end)
                return result
            }
            guard try fill(deadline: deadline) else { throw ClientError("connection closed before \(delimiter.debugDescription)") }
        }
    }

    public func read(count: Int, timeout: Double = 5) throws -> [UInt8] {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while buffer.count < count {
            guard try fill(deadline: deadline) else { throw ClientError("connection closed after \(buffer.count) of \(count) bytes") }
        }
        let result = Array(buffer[..<count])
        buffer.removeFirst(count)
        return result
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for start in 0...(buffer.count - needle.count) where buffer[start..<start + needle.count].elementsEqual(needle) {
            return start + needle.count
        }
        return nil
    }

    public func readHead(timeout: Double = 5) throws -> ResponseHead {
        let text = String(decoding: try read(until: "\r\n\r\n", timeout: timeout), as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw ClientError("bad status line in \(text.debugDescription)")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw ClientError("bad header \(line)") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return ResponseHead(status: status, headers: headers)
    }

    /// One chunk of a chunked body, parsed strictly; nil for the final 0-chunk
    /// (whose empty trailer is consumed too).
    public func readChunk(timeout: Double = 5) throws -> [UInt8]? {
        let sizeLine = String(decoding: try read(until: "\r\n", timeout: timeout).dropLast(2), as: UTF8.self)
        guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
            throw ClientError("bad chunk size line \(sizeLine.debugDescription)")
        }
        if size == 0 {
            guard try read(until: "\r\n", timeout: timeout) == Array("\r\n".utf8) else {
                throw ClientError("unexpected trailer")
            }
            return nil
        }
        let data = try read(count: size, timeout: timeout)
        guard try read(count: 2, timeout: timeout) == Array("\r\n".utf8) else { throw ClientError("chunk not followed by CRLF") }
        return data
    }

    /// All chunks up to the final one, concatenated.
    public func readChunkedBody(timeout: Double = 5) throws -> [UInt8] {
        var body: [UInt8] = []
        while let chunk = try readChunk(timeout: timeout) { body += chunk }
        return body
    }

    /// True if the server closes the connection (after any unread bytes) in time.
    public func waitForClose(timeout: Double = 5) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        buffer.removeAll()
        while true {
            do {
                if try !fill(deadline: deadline) { return true }
            } catch {
                return (error as? ClientError)?.description.hasPrefix("recv") ?? false
            }
        }
    }

    /// Sends a simple request.
    public func request(_ method: String = "GET", _ target: String, headers: [String] = [], body: String? = nil) throws {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
        for header in headers { text += header + "\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        try send(text)
    }
}

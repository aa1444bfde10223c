import Glibc

/// Binds the listening socket ourselves rather than letting libmicrohttpd do
/// it: we get a precise error (``HTTPServerError/portInUse(host:port:)``
/// instead of a bare NULL daemon) and can read the bound port of port 0.
struct ListenSocket {
    let descriptor: Int32
    let isIPv6: Bool
    let port: Int

    init(host: String, port: Int, backlog: Int32 = 128) throws(HTTPServerError) {
        guard (0...65535).contains(port) else { throw .invalidPort(port) }
        let address = try Self.resolve(host: host, port: port)
        let family = Int32(address.family)
        // Non-blocking so that an accept() racing with a client's reset can
        // never block libmicrohttpd's polling thread.
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd = Glibc.socket(family, type, 0)
        guard fd >= 0 else { throw .socketFailure(operation: "socket", errno: errno) }
        do throws(HTTPServerError) {
            // Allow an immediate restart while old connections sit in TIME_WAIT;
            // on Linux this does not let two servers listen on one port.
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if family == AF_INET6 {
                // "::" should also accept IPv4 clients, whatever the sysctl default.
                var zero: Int32 = 0
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, socklen_t(MemoryLayout<Int32>.size))
            }
            let bound = address.storage.withSockaddr { Glibc.bind(fd, $0, address.length) }
            if bound != 0 {
                let code = errno
                if code == EADDRINUSE { throw .portInUse(host: host, port: port) }
                if code == EADDRNOTAVAIL {
                    throw .addressUnavailable(host: host, reason: "not an address of this machine")
                }
                throw .socketFailure(operation: "bind", errno: code)
            }
            guard listen(fd, backlog) == 0 else {
                throw .socketFailure(operation: "listen", errno: errno)
            }
            self.descriptor = fd
            self.isIPv6 = family == AF_INET6
            self.port = try Self.boundPort(fd)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    private struct Address {
        var storage: sockaddr_storage
        var length: socklen_t
        var family: sa_family_t
    }

    /// The first address `getaddrinfo` gives for a passive TCP socket.
    private static func resolve(host: String, port: Int) throws(HTTPServerError) -> Address {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard status == 0, let first = list, let addr = first.pointee.ai_addr else {
            let reason = status == 0 ? "no address" : String(cString: gai_strerror(status))
            throw .addressUnavailable(host: host, reason: reason)
        }
        defer { freeaddrinfo(list) }
        var storage = sockaddr_storage()
        let length = first.pointee.ai_addrlen
        withUnsafeMutableBytes(of: &storage) { target in
            target.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: Int(length)))
        }
        return Address(storage: storage, length: length, family: addr.pointee.sa_family)
    }

    private static func boundPort(_ fd: Int32) throws(HTTPServerError) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = storage.withMutableSockaddr { getsockname(fd, $0, &length) }
        guard status == 0 else { throw .socketFailure(operation: "getsockname", errno: errno) }
        return withUnsafeBytes(of: &storage) { raw -> Int in
            // sin_port and sin6_port sit at the same offset, in network byte order.
            let port = raw.load(fromByteOffset: MemoryLayout<sa_family_t>.size, as: UInt16.self)
            return Int(UInt16(bigEndian: port))
        }
    }
}

extension sockaddr_storage {
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>) -> R) -> R {
        withUnsafePointer(to: self) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
    }

    mutating func withMutableSockaddr<R>(_ body: (UnsafeMutablePointer<sockaddr>) -> R) -> R {
        withUnsafeMutablePointer(to: &self) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
    }
}

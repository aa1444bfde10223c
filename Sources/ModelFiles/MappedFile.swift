#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if _endian(big)
#error("model files are little-endian and read in place; big-endian hosts are not supported")
#endif

/// A file mapped read-only into memory. Tensors point into `bytes`, so
/// nothing is copied and pages arrive as they are first read.
public final class MappedFile: @unchecked Sendable {  // immutable; the mapping is read-only
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    /// The open file, for ``copy(_:into:)``.
    private let descriptor: Int32

    public init(path: String) throws {
        self.path = path
        // Non-blocking, so that a FIFO is refused below instead of blocking the open.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ModelFileError(path, "cannot open: \(String(cString: strerror(errno)))") }
        descriptor = fd
        var mapped = false
        defer { if !mapped { close(fd) } }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ModelFileError(path, "cannot stat: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ModelFileError(path, "not a regular file") }
        let size = Int(info.st_size)
        guard size > 0 else { throw ModelFileError(path, "the file is empty") }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw ModelFileError(path, "cannot map: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
        mapped = true
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress!), bytes.count)
        close(descriptor)
    }

    /// Copies `range` (a part of ``bytes``: see ``contains(_:)``) to
    /// `destination`, reading the file rather than the mapping: touching the
    /// mapping page by page took 3-15 times longer (a fault for every 4 kB).
    public func copy(_ range: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer) {
        guard let start = range.baseAddress, range.count > 0 else { return }
        let base = bytes.baseAddress!
        precondition(contains(start) && start + range.count <= base + bytes.count, "the range lies outside \(path)")
        var done = 0
        while done < range.count {
            let read = pread(descriptor, destination + done, range.count - done, off_t(start - base + done))
            guard read > 0 else {  // the mapping has the same bytes
                (destination + done).copyMemory(from: start + done, byteCount: range.count - done)
                return
            }
            done += read
        }
    }

    /// Whether `pointer` lies in the mapping.
    public func contains(_ pointer: UnsafeRawPointer) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        return pointer >= base && pointer < base + bytes.count
    }

    /// Lets the pages wholly inside `range` (of a mapping) leave the
    /// process's memory, once their contents have been copied: they stop
    /// counting in its resident size, and would be read from the file again
    /// if touched.
    public static func evict(_ range: UnsafeRawBufferPointer) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let base = range.baseAddress else { return }
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + range.count) / page * page
        guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(pointer, end - start, MADV_DONTNEED)
    }
}

/// Reads little-endian values from a byte range, refusing to read past its
/// end: every length and count from the file is checked here before use.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    let file: String
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    var remaining: Int { bytes.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw truncated(what(), needs: size) }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    mutating func readBytes(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard count >= 0, remaining >= count else { throw truncated(what(), needs: count) }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        offset += count
        return slice
    }

    /// A string stored as a u64 byte length and UTF-8 bytes (GGUF's layout).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try read(UInt64.self, what())
        guard length <= UInt64(remaining) else {
            throw ModelFileError(file, "\(what()): string length \(length) is beyond the end of the file (\(remaining) bytes left at byte \(offset))")
        }
        let raw = try readBytes(Int(length), what())
        return String(decoding: raw, as: UTF8.self)
    }

    private func truncated(_ what: String, needs count: Int) -> ModelFileError {
        ModelFileError(file, "truncated: \(what) needs \(count) bytes at byte \(offset) but only \(remaining) remain")
    }
}

/// Overflow-checked arithmetic for sizes read from files: nil instead of a trap.
enum Checked {
    static func product(_ values: [Int]) -> Int? {
        var result = 1
        for value in values {
            guard value >= 0 else { return nil }
            let (product, overflow) = result.multipliedReportingOverflow(by: value)
            if overflow { return nil }
            result = product
        }
        return result
    }

    static func sum(_ a: Int, _ b: Int) -> Int? {
        let (total, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : total
    }
}

import Foundation

/// Memory for a model's weights in transparent huge pages: one anonymous
/// region, advised for huge pages (2 MB on x86-64), that the tensors are
/// copied into one after another (`LoadedModel(path:hugePages:)`).
///
/// Decode reads every weight once per token. From a mapped file it reads
/// 4 kB pages, each its own TLB entry: a token of the 124M shape touches
/// some 120,000 of them, and on a virtual machine each miss walks two sets
/// of page tables. From huge pages it touches some 240. Measured on this
/// project's 2-core VM: decode of the 124M shape 1-12% faster in all but
/// one set of rounds, the bundled model's 11-14%; prompts about level
/// (README, "Weights in huge pages").
final class HugePageArena {
    /// The huge page size, or nil where the kernel offers no transparent
    /// huge pages (not Linux, or THP set to "never").
    static let pageSize: Int? = {
        #if os(Linux)
        guard let mode = readSmallFile("/sys/kernel/mm/transparent_hugepage/enabled"),
              !mode.contains("[never]"),
              let size = readSmallFile("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
                .flatMap({ Int($0.filter(\.isNumber)) }), size > 0 else { return nil }
        return size
        #else
        return nil
        #endif
    }()

    private let region: UnsafeMutableRawPointer
    private let regionBytes: Int
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private var used = 0

    /// Reserves `capacity` bytes of address space (pages are only taken as
    /// they are written), aligned to the huge page size; nil when there are
    /// no huge pages or the reservation fails.
    init?(capacity: Int) {
        #if os(Linux)
        guard let page = Self.pageSize, capacity > 0 else { return nil }
        let rounded = (capacity + page - 1) / page * page
        regionBytes = rounded + page
        guard let region = mmap(nil, regionBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              region != MAP_FAILED else { return nil }
        self.region = region
        base = UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: region) + page - 1) / page * page)!
        self.capacity = rounded
        _ = madvise(base, rounded, MADV_HUGEPAGE)
        #else
        return nil
        #endif
    }

    deinit { munmap(region, regionBytes) }

    /// `byteCount` bytes aligned to 64, or nil when the arena is full.
    func allocate(byteCount: Int) -> UnsafeMutableRawPointer? {
        let start = (used + 63) / 64 * 64
        guard byteCount >= 0, start + byteCount <= capacity else { return nil }
        used = start + byteCount
        return base + start
    }

    private static func readSmallFile(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
}

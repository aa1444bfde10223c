/// A metadata value of a GGUF file.
public enum GGUFValue: Sendable {
    case integer(Int64)
    /// u64 values above Int64.max.
    case unsigned(UInt64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    public var integer: Int? {
        switch self {
        case .integer(let value): Int(exactly: value)
        case .unsigned(let value): Int(exactly: value)
        default: nil
        }
    }

    public var kindName: String {
        switch self {
        case .integer, .unsigned: "an integer"
        case .float: "a float"
        case .bool: "a boolean"
        case .string: "a string"
        case .array: "an array"
        }
    }
}

/// The header, metadata and tensor table of a GGUF file (versions 2 and 3),
/// as the GGUF specification lays them out; tensors stay in the mapping.
///
/// Every count, length, offset and size is checked against the bytes that
/// remain before it is used, so a hostile file costs at most its own size in
/// memory and time.
public struct GGUFFile {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read as a little-endian u32
    public static let defaultAlignment = 32

    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [TensorView]

    public func value(_ key: String) -> GGUFValue? { metadata.first { $0.key == key }?.value }

    /// GGML type ids this reader accepts, and the names of the others so a refusal can say what it met.
    static let supportedTypes: [UInt32: TensorType] = [0: .f32, 1: .f16, 2: .q4_0, 8: .q8_0, 30: .bf16]
    static let otherTypeNames: [UInt32: String] = [
        3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K",
        15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
        23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
    ]

    /// GGML's type id for each type this project writes.
    public static func typeID(_ type: TensorType) -> UInt32 {
        supportedTypes.first { $0.value == type }!.key
    }

    /// Parses `bytes` (a whole file); `file` names it in errors.
    public init(bytes: UnsafeRawBufferPointer, file: String) throws {
        var cursor = ByteCursor(bytes, file: file)
        let magic = try cursor.read(UInt32.self, "the magic number")
        guard magic == Self.magic else {
            throw ModelFileError(file, "bad magic number 0x\(String(magic, radix: 16)) (expected \"GGUF\"); not a GGUF file")
        }
        version = try cursor.read(UInt32.self, "the version")
        guard version == 2 || version == 3 else {
            throw ModelFileError(file, "GGUF version \(version) is not supported (only 2 and 3)")
        }
        let tensorCount = try cursor.read(UInt64.self, "the tensor count")
        let metadataCount = try cursor.read(UInt64.self, "the metadata count")
        // Each entry takes at least 13 bytes (key length, type, one byte of value); each tensor at least 24.
        guard metadataCount <= UInt64(cursor.remaining / 13) else {
            throw ModelFileError(file, "metadata count \(metadataCount) cannot fit in the \(cursor.remaining) bytes that follow")
        }
        guard tensorCount <= UInt64(cursor.remaining / 24) else {
            throw ModelFileError(file, "tensor count \(tensorCount) cannot fit in the \(cursor.remaining) bytes that follow")
        }
        var metadata: [(key: String, value: GGUFValue)] = []
        var keys = Set<String>()
        for index in 0..<Int(metadataCount) {
            let key = try cursor.readString("metadata key \(index)")
            guard keys.insert(key).inserted else { throw ModelFileError(file, "metadata key \"\(key)\" appears twice") }
            let type = try cursor.read(UInt32.self, "the type of metadata \"\(key)\"")
            metadata.append((key, try Self.readValue(type: type, cursor: &cursor, key: key, nested: false)))
        }
        self.metadata = metadata

        var alignment = Self.defaultAlignment
        if let value = metadata.first(where: { $0.key == "general.alignment" })?.value {
            guard let requested = value.integer, requested > 0, requested <= 1 << 20, requested & (requested - 1) == 0 else {
                throw ModelFileError(file, "general.alignment must be a power of two up to 2^20; it is \(value)")
            }
            alignment = requested
        }

        struct TensorInfo { let name: String; let type: TensorType; let shape: [Int]; let offset: UInt64 }
        var infos: [TensorInfo] = []
        var names = Set<String>()
        for index in 0..<Int(tensorCount) {
            let name = try cursor.readString("the name of tensor \(index)")
            guard names.insert(name).inserted else { throw ModelFileError(file, "tensor \(name) appears twice") }
            let dimensionCount = try cursor.read(UInt32.self, "the dimension count of tensor \(name)")
            guard (1...4).contains(dimensionCount) else {
                throw ModelFileError(file, "tensor \(name) has \(dimensionCount) dimensions; GGUF allows 1 to 4")
            }
            var extents: [Int] = []
            for d in 0..<Int(dimensionCount) {
                let extent = try cursor.read(UInt64.self, "dimension \(d) of tensor \(name)")
                guard extent >= 1, extent <= UInt64(Int.max) else {
                    throw ModelFileError(file, "tensor \(name) dimension \(d) is \(extent); it must be at least 1")
                }
                extents.append(Int(extent))
            }
            let typeID = try cursor.read(UInt32.self, "the type of tensor \(name)")
            guard let type = Self.supportedTypes[typeID] else {
                let typeName = Self.otherTypeNames[typeID].map { "\($0) (type \(typeID))" } ?? "unknown type \(typeID)"
                throw ModelFileError(file, "tensor \(name) is \(typeName); supported types are F32, F16, BF16, Q8_0 and Q4_0")
            }
            let offset = try cursor.read(UInt64.self, "the offset of tensor \(name)")
            // GGUF lists the fastest-varying dimension first; shapes here put it last.
            infos.append(TensorInfo(name: name, type: type, shape: extents.reversed(), offset: offset))
        }

        let (dataStart, overflow) = cursor.offset.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw ModelFileError(file, "the tensor data start overflows") }
        let aligned = dataStart / alignment * alignment
        guard aligned <= bytes.count else {
            throw ModelFileError(file, "truncated: the tensor data would start at byte \(aligned), past the end (\(bytes.count) bytes)")
        }
        let dataBytes = bytes.count - aligned
        var tensors: [TensorView] = []
        for info in infos {
            guard let elements = Checked.product(info.shape) else {
                throw ModelFileError(file, "tensor \(info.name) shape \(info.shape) overflows")
            }
            guard info.shape.last! % info.type.blockElements == 0, let size = info.type.byteCount(elements: elements) else {
                throw ModelFileError(file, "tensor \(info.name) of type \(info.type) has rows of \(info.shape.last!) elements; "
                    + "it needs whole blocks of \(info.type.blockElements)")
            }
            guard info.offset % UInt64(alignment) == 0 else {
                throw ModelFileError(file, "tensor \(info.name) data offset \(info.offset) is not a multiple of the alignment \(alignment)")
            }
            guard info.offset <= UInt64(dataBytes), size <= dataBytes - Int(info.offset) else {
                throw ModelFileError(file, "tensor \(info.name) (\(size) bytes at data offset \(info.offset)) lies outside the file: "
                    + "only \(dataBytes) bytes of tensor data follow the header")
            }
            tensors.append(TensorView(name: info.name, type: info.type, shape: info.shape,
                                      data: bytes.baseAddress! + aligned + Int(info.offset), byteCount: size))
        }
        self.tensors = tensors
    }

    private static func readValue(type: UInt32, cursor: inout ByteCursor, key: String, nested: Bool) throws -> GGUFValue {
        let what = "the value of metadata \"\(key)\""
        switch type {
        case 0: return .integer(Int64(try cursor.read(UInt8.self, what)))
        case 1: return .integer(Int64(try cursor.read(Int8.self, what)))
        case 2: return .integer(Int64(try cursor.read(UInt16.self, what)))
        case 3: return .integer(Int64(try cursor.read(Int16.self, what)))
        case 4: return .integer(Int64(try cursor.read(UInt32.self, what)))
        case 5: return .integer(Int64(try cursor.read(Int32.self, what)))
        case 6: return .float(Double(Float(bitPattern: try cursor.read(UInt32.self, what))))
        case 7:
            let byte = try cursor.read(UInt8.self, what)
            guard byte <= 1 else { throw ModelFileError(cursor.file, "metadata \"\(key)\" is a boolean with byte \(byte); expected 0 or 1") }
            return .bool(byte == 1)
        case 8: return .string(try cursor.readString(what))
        case 9:
            guard !nested else { throw ModelFileError(cursor.file, "metadata \"\(key)\" is an array of arrays; not supported") }
            let elementType = try cursor.read(UInt32.self, "the element type of metadata \"\(key)\"")
            let count = try cursor.read(UInt64.self, "the element count of metadata \"\(key)\"")
            guard let size = elementSize(elementType) else {
                throw ModelFileError(cursor.file, "metadata \"\(key)\" is an array of unknown type \(elementType); known types are 0 to 12")
            }
            guard count <= UInt64(cursor.remaining / size) else {
                throw ModelFileError(cursor.file, "metadata \"\(key)\" claims \(count) elements but only \(cursor.remaining) bytes follow")
            }
            var elements: [GGUFValue] = []
            elements.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                elements.append(try readValue(type: elementType, cursor: &cursor, key: key, nested: true))
            }
            return .array(elements)
        case 10:
            let value = try cursor.read(UInt64.self, what)
            return value <= UInt64(Int64.max) ? .integer(Int64(value)) : .unsigned(value)
        case 11: return .integer(try cursor.read(Int64.self, what))
        case 12: return .float(Double(bitPattern: try cursor.read(UInt64.self, what)))
        default:
            throw ModelFileError(cursor.file, "metadata \"\(key)\" has unknown value type \(type); known types are 0 to 12")
        }
    }

    /// The fewest bytes one element of `type` takes (a string: its 8-byte length).
    private static func elementSize(_ type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: 1
        case 2, 3: 2
        case 4, 5, 6: 4
        case 8, 10, 11, 12: 8
        case 9: 12
        default: nil
        }
    }
}

extension GGUFValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .integer(let value): "\(value)"
        case .unsigned(let value): "\(value)"
        case .float(let value): "\(value)"
        case .bool(let value): "\(value)"
        case .string(let value): value.count > 40 ? "a string" : "\"\(value)\""
        case .array(let values): "an array of \(values.count)"
        }
    }
}

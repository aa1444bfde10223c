import JSON

/// The tensor table of a `.safetensors` file: an 8-byte little-endian header
/// length, a JSON header naming each tensor's dtype, shape and byte range,
/// then the bytes. Tensors stay in the mapping.
public struct SafetensorsFile {
    /// The format's own limit on the JSON header.
    public static let maximumHeaderBytes = 100_000_000

    public let tensors: [TensorView]

    public init(bytes: UnsafeRawBufferPointer, file: String) throws {
        var cursor = ByteCursor(bytes, file: file)
        let headerLength = try cursor.read(UInt64.self, "the header length")
        guard headerLength <= UInt64(min(cursor.remaining, Self.maximumHeaderBytes)) else {
            throw ModelFileError(file, "header length \(headerLength) is larger than the \(cursor.remaining) bytes that follow "
                + "(or the format's limit of \(Self.maximumHeaderBytes)); not a safetensors file, or truncated")
        }
        let header = try cursor.readBytes(Int(headerLength), "the JSON header")
        let entries = try JSONObject.parse(Array(header), file: file, subject: "the header", expected: "an object of tensors")
        let data = UnsafeRawBufferPointer(rebasing: bytes[cursor.offset...])
        var tensors: [TensorView] = []
        var names = Set<String>()
        for (name, value) in entries.members where name != "__metadata__" {
            guard names.insert(name).inserted else { throw ModelFileError(file, "tensor \(name) appears twice") }
            tensors.append(try Self.tensor(name, value, data: data, file: file))
        }
        self.tensors = tensors
    }

    private static func tensor(_ name: String, _ value: JSONValue, data: UnsafeRawBufferPointer, file: String) throws -> TensorView {
        guard case .object(let fields) = value else {
            throw ModelFileError(file, "tensor \(name) is \(value.kindName) in the header; expected an object")
        }
        let dtypes: [String: TensorType] = ["F32": .f32, "F16": .f16, "BF16": .bf16]
        guard case .string(let dtype)? = fields["dtype"] else {
            throw ModelFileError(file, "tensor \(name) has no dtype string")
        }
        guard let type = dtypes[dtype] else {
            throw ModelFileError(file, "tensor \(name) has dtype \(dtype); supported dtypes are F32, F16 and BF16")
        }
        guard case .array(let dimensions)? = fields["shape"], dimensions.count <= 8 else {
            throw ModelFileError(file, "tensor \(name) needs a shape: an array of at most 8 sizes")
        }
        var shape: [Int] = []
        for dimension in dimensions {
            guard case .integer(let extent) = dimension, extent >= 0 else {
                throw ModelFileError(file, "tensor \(name) shape has \(dimension); sizes must be integers from 0")
            }
            shape.append(extent)
        }
        guard case .array(let offsets)? = fields["data_offsets"], offsets.count == 2,
              case .integer(let begin) = offsets[0], case .integer(let end) = offsets[1] else {
            throw ModelFileError(file, "tensor \(name) needs data_offsets: [begin, end] as integers")
        }
        guard 0 <= begin, begin <= end, end <= data.count else {
            throw ModelFileError(file, "tensor \(name) data_offsets [\(begin), \(end)] lie outside the \(data.count) bytes of data")
        }
        guard let elements = Checked.product(shape), let size = type.byteCount(elements: elements), size == end - begin else {
            throw ModelFileError(file, "tensor \(name) of dtype \(dtype) and shape \(shape) does not take the \(end - begin) bytes "
                + "of its data_offsets [\(begin), \(end)]")
        }
        return TensorView(name: name, type: type, shape: shape, data: data.baseAddress! + begin, byteCount: size)
    }
}

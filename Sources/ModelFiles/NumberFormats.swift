/// Conversions between f32 and the 16-bit and block formats, written from
/// their definitions (IEEE 754 half, bfloat16, GGML's q8_0 and q4_0): the
/// converter widens and narrows with them, and the loader widens small tensors.
public enum NumberFormats {
    /// IEEE 754 binary16 to binary32, exact (subnormals, infinities and NaN included).
    @inline(__always)
    public static func float(fromHalf bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            // Subnormal: mantissa * 2^-24.
            let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
    }

    /// binary32 to binary16, rounding to nearest even; too large becomes infinity.
    public static func half(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0) }
        let halfExponent = exponent - 127 + 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }
        if halfExponent <= 0 {
            // Subnormal or zero in half precision.
            if halfExponent < -10 { return sign }
            let full = mantissa | 0x80_0000
            let shift = UInt32(14 - halfExponent)
            var result = full >> shift
            let remainder = full & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if remainder > halfway || (remainder == halfway && result & 1 == 1) { result += 1 }
            return sign | UInt16(result)
        }
        var result = UInt32(halfExponent) << 10 | (mantissa >> 13)
        let remainder = mantissa & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && result & 1 == 1) { result += 1 }  // may carry into the exponent: correct
        return sign | UInt16(result)
    }

    @inline(__always)
    public static func float(fromBFloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// binary32 to bfloat16, rounding to nearest even; NaN stays a (quiet) NaN.
    public static func bfloat16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// Widens `count` elements of `type` at `source` (any alignment) into `destination`.
    public static func widen(_ source: UnsafeRawPointer, type: TensorType, count: Int, into destination: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .f16:
            for i in 0..<count { destination[i] = float(fromHalf: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16:
            for i in 0..<count { destination[i] = float(fromBFloat16: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .q8_0:
            for block in 0..<count / 32 {
                let base = source + block * 34
                let scale = float(fromHalf: base.loadUnaligned(as: UInt16.self))
                for j in 0..<32 {
                    destination[block * 32 + j] = Float(Int8(bitPattern: base.load(fromByteOffset: 2 + j, as: UInt8.self))) * scale
                }
            }
        case .q4_0:
            for block in 0..<count / 32 {
                let base = source + block * 18
                let scale = float(fromHalf: base.loadUnaligned(as: UInt16.self))
                for j in 0..<16 {
                    let packed = base.load(fromByteOffset: 2 + j, as: UInt8.self)
                    destination[block * 32 + j] = Float(Int(packed & 0x0F) - 8) * scale
                    destination[block * 32 + j + 16] = Float(Int(packed >> 4) - 8) * scale
                }
            }
        }
    }

    /// Narrows f32 values to `type`'s bytes. Block types need a multiple of
    /// 32 values and quantize as GGML's reference code does: q8_0 scales by
    /// max|x| / 127 and rounds half away from zero; q4_0 scales by the
    /// largest-magnitude value / -8 and stores trunc(x / scale + 8.5), clamped
    /// to 15. Values must be finite.
    public static func narrow(_ values: UnsafeBufferPointer<Float>, to type: TensorType) -> [UInt8] {
        precondition(values.count % type.blockElements == 0, "\(type) needs whole blocks of \(type.blockElements)")
        let byteCount = type.byteCount(elements: values.count)!
        return [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            let out = UnsafeMutableRawPointer(buffer.baseAddress!)
            func store16(_ bits: UInt16, at offset: Int) { out.storeBytes(of: bits.littleEndian, toByteOffset: offset, as: UInt16.self) }
            switch type {
            case .f32:
                out.copyMemory(from: values.baseAddress!, byteCount: byteCount)
            case .f16:
                for i in values.indices { store16(half(from: values[i]), at: 2 * i) }
            case .bf16:
                for i in values.indices { store16(bfloat16(from: values[i]), at: 2 * i) }
            case .q8_0:
                for block in 0..<values.count / 32 {
                    let x = values.baseAddress! + block * 32, base = block * 34
                    var largest: Float = 0
                    for j in 0..<32 { largest = max(largest, abs(x[j])) }
                    let scale = largest / 127
                    let inverse: Float = scale == 0 ? 0 : 1 / scale
                    store16(half(from: scale), at: base)
                    for j in 0..<32 { buffer[base + 2 + j] = UInt8(bitPattern: Int8((x[j] * inverse).rounded())) }
                }
            case .q4_0:
                for block in 0..<values.count / 32 {
                    let x = values.baseAddress! + block * 32, base = block * 18
                    var extreme: Float = 0
                    for j in 0..<32 where abs(x[j]) > abs(extreme) { extreme = x[j] }
                    let scale = extreme / -8
                    let inverse: Float = scale == 0 ? 0 : 1 / scale
                    store16(half(from: scale), at: base)
                    func nibble(_ value: Float) -> UInt8 { UInt8(min(15, max(0, Int(value * inverse + 8.5)))) }
                    for j in 0..<16 { buffer[base + 2 + j] = nibble(x[j]) | nibble(x[j + 16]) << 4 }
                }
            }
            initialized = byteCount
        }
    }
}

/// GPT-2's reversible map between the 256 byte values and 256 printable
/// characters.
///
/// Byte-level BPE vocabularies store tokens as strings of these characters, so
/// that every byte sequence, including partial UTF-8 characters, is a string
/// of visible characters. Bytes that are already printable and not a space
/// (`!`...`~`, `¡`...`¬`, `®`...`ÿ`) stand for themselves; the other 68 take
/// the characters from U+0100 on, in byte order (so a space is `Ġ`, U+0120).
package enum ByteLevel {
    /// The character that stands for each byte, indexed by byte value.
    package static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var nextSubstitute: UInt32 = 0x100
        for byte in 0...255 {
            if standsForItself(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(nextSubstitute)!
                nextSubstitute += 1
            }
        }
        return table
    }()

    /// The inverse of `scalarForByte`, indexed by scalar value; -1 where a
    /// scalar stands for no byte. Every mapped scalar is below U+0144.
    private static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarForByte.enumerated() {
            table[Int(scalar.value)] = Int16(byte)
        }
        return table
    }()

    private static func standsForItself(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The byte a character stands for, or nil if it stands for none.
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        guard scalar.value < byteForScalar.count else { return nil }
        let byte = byteForScalar[Int(scalar.value)]
        return byte < 0 ? nil : UInt8(byte)
    }

    /// The bytes a byte-level token string stands for, or nil if one of its
    /// characters stands for no byte.
    static func bytes(ofToken token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let byte = byte(for: scalar) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}

import CKernels
import Testing
@testable import GPT

/// The few-token products of CKernels, for every weight type and every
/// instruction set this CPU has, against a float64 sum over the weights as
/// the test itself decodes them from GGUF's definitions of each format.
/// q8_0 and q4_0 matrices are multiplied in the engine's interleaved layout
/// (`gpt_interleave_rows`), checked here against the GGUF rows they came from.
@Suite struct WeightKernelTests {
    static let types: [gpt_type] = [GPT_TYPE_F32, GPT_TYPE_F16, GPT_TYPE_BF16, GPT_TYPE_Q8_0, GPT_TYPE_Q4_0]
    /// Every instruction set up to the best this CPU has.
    static var instructionSets: [gpt_isa] {
        [GPT_ISA_PORTABLE, GPT_ISA_AVX2, GPT_ISA_AVX512].filter { $0.rawValue <= gpt_kernels_best_isa().rawValue }
    }

    /// (T, IC, OC): IC a multiple of 32 for the block types, odd widths for the
    /// others; 4 to 7 tokens take f32's 2-row by 4-token path and its leftovers.
    static let shapes = [(1, 64, 5), (1, 768, 33), (3, 96, 7), (16, 128, 4)]
    static let oddShapes = [(1, 35, 9), (2, 13, 3), (5, 71, 6), (6, 40, 5), (7, 24, 9)]

    @Test(arguments: types)
    func productsMatchFloat64Sums(type: gpt_type) {
        let blockType = type == GPT_TYPE_Q8_0 || type == GPT_TYPE_Q4_0
        for (T, IC, OC) in Self.shapes + (blockType ? [] : Self.oddShapes) {
            var random = Xoshiro256StarStar(seed: UInt64(T * 1000 + IC))
            func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.next() % 20001) / 10000 - 1 } }
            let x = values(T * IC), bias = values(OC)
            let encoded = Encoded(type: type, weights: values(OC * IC), columns: IC)
            let decoded = encoded.decoded()
            let (kernelType, weights) = blockType ? encoded.interleaved(rows: OC) : (type, encoded.bytes)
            let input = blockType ? quantizedActivations(x, for: kernelType, rows: T, columns: IC) : x.withUnsafeBytes { Array($0) }
            // Activations are rounded to 16 bits for q8_0 (about 1/65534 of
            // each term) and to 8 bits for q4_0 (about 1/254).
            let tolerance: Double = type == GPT_TYPE_Q4_0 ? 5e-3 : blockType ? 1e-4 : 1e-5
            var results: [[Float]] = []
            for isa in Self.instructionSets {
                for rows in [0..<OC, 1..<OC] {
                    var out = [Float](repeating: .nan, count: T * OC)
                    gpt_matmul_rows_isa(isa, kernelType, &out, input, weights, bias, Int32(T), Int32(IC), Int32(OC),
                                        Int32(rows.lowerBound), Int32(rows.upperBound))
                    for t in 0..<T {
                        for o in 0..<OC {
                            let got = out[t * OC + o]
                            guard rows.contains(o) else {
                                #expect(got.isNaN, "row \(o) is outside \(rows) and must be left alone")
                                continue
                            }
                            var sum = Double(bias[o]), magnitude = abs(Double(bias[o]))
                            for i in 0..<IC {
                                sum += Double(decoded[o * IC + i]) * Double(x[t * IC + i])
                                magnitude += abs(Double(decoded[o * IC + i]) * Double(x[t * IC + i]))
                            }
                            #expect(abs(Double(got) - sum) <= tolerance * magnitude,
                                    "\(type) isa \(isa) T \(T) IC \(IC): row \(o) token \(t): \(got) vs \(sum)")
                        }
                    }
                    if rows == 0..<OC {
                        results.append(out)
                    } else {
                        // A row's result does not depend on which rows are computed with it.
                        let same = (0..<T).allSatisfy { t in out[t * OC + 1..<(t + 1) * OC] == results.last![t * OC + 1..<(t + 1) * OC] }
                        #expect(same, "\(type) isa \(isa): rows 1..<\(OC) alone vs among all rows")
                    }
                }
                // A token's row is the same alone as in a batch.
                for t in 0..<T {
                    var alone = [Float](repeating: .nan, count: OC)
                    let rowBytes = input.count / T
                    Array(input[t * rowBytes..<(t + 1) * rowBytes]).withUnsafeBytes { one in
                        gpt_matmul_rows_isa(isa, kernelType, &alone, one.baseAddress, weights, bias, 1, Int32(IC), Int32(OC),
                                            0, Int32(OC))
                    }
                    #expect(alone == Array(results.last![t * OC..<(t + 1) * OC]), "\(type) token \(t) alone vs in a batch")
                }
            }
        }
    }

    @Test(arguments: types)
    func widenedRowsAreTheDecodedWeights(type: gpt_type) {
        let (IC, OC) = (64, 6)
        var random = Xoshiro256StarStar(seed: 9)
        let encoded = Encoded(type: type, weights: (0..<IC * OC).map { _ in Float(random.next() % 2001) / 100 - 10 },
                              columns: IC)
        let layouts = [(type, encoded.bytes)] + (type == GPT_TYPE_Q8_0 || type == GPT_TYPE_Q4_0 ? [encoded.interleaved(rows: OC)] : [])
        for (layout, bytes) in layouts {
            for isa in Self.instructionSets {
                var widened = [Float](repeating: .nan, count: 3 * IC)
                gpt_widen_rows_isa(isa, layout, bytes, &widened, Int32(IC), 2, 5)
                #expect(widened == Array(encoded.decoded()[2 * IC..<5 * IC]), "\(layout) isa \(isa)")
                // A span of whole blocks, as the gemm packs them.
                var span = [Float](repeating: .nan, count: 32)
                gpt_widen_span_isa(isa, layout, bytes, Int32(IC), 4, 32, 32, &span)
                #expect(span == Array(encoded.decoded()[4 * IC + 32..<4 * IC + 64]), "\(layout) isa \(isa) span")
            }
        }
    }

    /// A row of zeros quantizes to zeros, not to NaNs from a zero scale.
    @Test(arguments: [GPT_TYPE_Q8_0, GPT_TYPE_Q4_0])
    func zeroActivationsGiveZero(type: gpt_type) {
        let x = [Float](repeating: 0, count: 64)
        let (kernelType, weights) = Encoded(type: type, weights: (0..<64).map { Float($0) / 64 }, columns: 64).interleaved(rows: 1)
        var out: [Float] = [.nan]
        gpt_matmul_rows(kernelType, &out, quantizedActivations(x, for: kernelType, rows: 1, columns: 64), weights, nil, 1, 64, 1, 0, 1)
        #expect(out == [0])
    }

    /// gpt_transpose (Hugging Face's [in, out] matrices at load) against a
    /// plain loop, for 4- and 2-byte elements, on shapes that cut across its
    /// 32 x 32 tiles.
    @Test(arguments: [(1, 5), (33, 70), (64, 64), (100, 31)])
    func transposeMovesEveryElement(rows: Int, columns: Int) {
        let wide = (0..<rows * columns).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) }
        var transposed = [UInt32](repeating: 0, count: wide.count)
        gpt_transpose(wide, &transposed, Int32(rows), Int32(columns), 4)
        let narrow = wide.map { UInt16(truncatingIfNeeded: $0 >> 7) }
        var transposedNarrow = [UInt16](repeating: 0, count: narrow.count)
        gpt_transpose(narrow, &transposedNarrow, Int32(rows), Int32(columns), 2)
        for r in 0..<rows {
            for c in 0..<columns {
                #expect(transposed[c * rows + r] == wide[r * columns + c])
                #expect(transposedNarrow[c * rows + r] == narrow[r * columns + c])
            }
        }
    }

    private func quantizedActivations(_ x: [Float], for type: gpt_type, rows: Int, columns: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: rows * gpt_quantized_activation_bytes(type, Int32(columns)))
        gpt_quantize_activations(type, x, &bytes, Int32(rows), Int32(columns))
        return bytes
    }
}

/// A weight matrix in one of the formats, encoded and decoded here from the
/// formats' definitions, independently of CKernels.
struct Encoded {
    let type: gpt_type
    let columns: Int
    let bytes: [UInt8]

    init(type: gpt_type, weights: [Float], columns: Int) {
        self.type = type
        self.columns = columns
        var bytes: [UInt8] = []
        func append16(_ value: UInt16) { bytes += [UInt8(value & 0xFF), UInt8(value >> 8)] }
        switch type {
        case GPT_TYPE_F32:
            for w in weights { withUnsafeBytes(of: w.bitPattern.littleEndian) { bytes += $0 } }
        case GPT_TYPE_F16:
            for w in weights { append16(Float16(w).bitPattern) }
        case GPT_TYPE_BF16:
            for w in weights {  // round to nearest even on the upper 16 bits
                let bits = w.bitPattern
                append16(UInt16((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16))
            }
        case GPT_TYPE_Q8_0, GPT_TYPE_Q4_0:
            for block in stride(from: 0, to: weights.count, by: 32) {
                let values = weights[block..<block + 32]
                if type == GPT_TYPE_Q8_0 {
                    let d = values.map(abs).max()! / 127
                    append16(Float16(d).bitPattern)
                    for v in values { bytes.append(UInt8(bitPattern: Int8(d == 0 ? 0 : (v / d).rounded()))) }
                } else {
                    // q4_0: the value of largest magnitude maps to -8; nibbles hold q + 8 in 0...15.
                    let extreme = values.max { abs($0) < abs($1) }!
                    let d = extreme / -8
                    append16(Float16(d).bitPattern)
                    let q = values.map { d == 0 ? 8 : UInt8(min(15, max(0, ($0 / d + 8.5).rounded(.down)))) }
                    for j in 0..<16 { bytes.append(q[j] | q[j + 16] << 4) }
                }
            }
        default:
            fatalError("unknown type")
        }
        self.bytes = bytes
    }

    /// A q8_0 or q4_0 matrix of `rows` rows in the engine's interleaved layout, and that layout's type.
    func interleaved(rows: Int) -> (gpt_type, [UInt8]) {
        var out = [UInt8](repeating: 0xAA, count: gpt_interleaved_bytes(type, Int32(columns), Int32(rows)))
        gpt_interleave_rows(type, bytes, &out, Int32(columns), Int32(rows))
        return (type == GPT_TYPE_Q8_0 ? GPT_TYPE_Q8_0_X8 : GPT_TYPE_Q4_0_X8, out)
    }

    func decoded() -> [Float] {
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
        switch type {
        case GPT_TYPE_F32:
            return stride(from: 0, to: bytes.count, by: 4).map {
                Float(bitPattern: UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24)
            }
        case GPT_TYPE_F16:
            return stride(from: 0, to: bytes.count, by: 2).map { Float(Float16(bitPattern: u16($0))) }
        case GPT_TYPE_BF16:
            return stride(from: 0, to: bytes.count, by: 2).map { Float(bitPattern: UInt32(u16($0)) << 16) }
        case GPT_TYPE_Q8_0:
            return stride(from: 0, to: bytes.count, by: 34).flatMap { at in
                let d = Float(Float16(bitPattern: u16(at)))
                return (0..<32).map { d * Float(Int8(bitPattern: bytes[at + 2 + $0])) }
            }
        case GPT_TYPE_Q4_0:
            return stride(from: 0, to: bytes.count, by: 18).flatMap { at in
                let d = Float(Float16(bitPattern: u16(at)))
                let nibbles = (0..<16).map { bytes[at + 2 + $0] }
                return nibbles.map { d * Float(Int($0 & 0xF) - 8) } + nibbles.map { d * Float(Int($0 >> 4) - 8) }
            }
        default:
            fatalError("unknown type")
        }
    }
}

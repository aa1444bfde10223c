import CKernels

/// The instruction set the C kernels run on: the best the CPU has
/// (chosen at run time; the binary itself needs AVX2 and FMA at most),
/// unless a benchmark chose a lower one to compare.
public enum InstructionSet: String, CaseIterable, Sendable {
    case portable, avx2, avx512

    public static var inUse: InstructionSet { InstructionSet(gpt_kernels_isa()) }

    /// Makes the kernels use `set`, or the CPU's best if that is lower; returns the one in use.
    @discardableResult
    public static func use(_ set: InstructionSet) -> InstructionSet {
        InstructionSet(gpt_kernels_use_isa(set.kernelValue))
    }

    init(_ isa: gpt_isa) {
        switch isa {
        case GPT_ISA_AVX512: self = .avx512
        case GPT_ISA_AVX2: self = .avx2
        default: self = .portable
        }
    }

    var kernelValue: gpt_isa {
        switch self {
        case .portable: GPT_ISA_PORTABLE
        case .avx2: GPT_ISA_AVX2
        case .avx512: GPT_ISA_AVX512
        }
    }
}

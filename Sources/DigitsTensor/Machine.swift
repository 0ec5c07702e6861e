// Machine: what the products run on, the CPU's vector width and the BLAS library's kernels, so that a benchmark
// can say which it measured and a run can say when the library fell back to generic kernels.

import Foundation
#if !canImport(Accelerate)
import CBLAS
#endif

/// The CPU and the BLAS kernels that digits' matrix products run on.
public struct Machine: Sendable, Equatable {
    /// The CPU's model name, e.g. "AMD EPYC" ("unknown CPU" where the system does not say).
    public var cpuModel: String
    /// CPU family and model numbers as the system reports them (x86 only), e.g. family 25 model 17 for AMD Zen 4.
    public var cpuFamilyModel: FamilyModel?
    /// The widest vectors the CPU runs, in bits: 512 (AVX-512), 256 (AVX2 or AVX), 128 (SSE or NEON).
    public var vectorBits: Int
    /// The BLAS library and its build, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64".
    public var blas: String
    /// The kernels the BLAS library chose for this CPU, e.g. "Cooperlake", "Haswell", "Prescott".
    public var blasKernels: String

    /// An x86 CPU's family and model numbers.
    public struct FamilyModel: Sendable, Equatable {
        public var family: Int
        public var model: Int

        /// Family `family`, model `model`.
        public init(family: Int, model: Int) {
            self.family = family
            self.model = model
        }
    }

    /// A description with the given parts (`current` reads this machine's).
    public init(cpuModel: String, cpuFamilyModel: FamilyModel?, vectorBits: Int, blas: String, blasKernels: String) {
        self.cpuModel = cpuModel
        self.cpuFamilyModel = cpuFamilyModel
        self.vectorBits = vectorBits
        self.blas = blas
        self.blasKernels = blasKernels
    }

    /// This machine, read once.
    public static let current = Machine.read()

    /// OpenBLAS kernel sets that use AVX2 or wider: any other choice on a CPU with AVX2 is a generic fallback.
    public static let wideOpenBLASKernels: Set<String> = ["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator"]

    /// Why the BLAS kernels are a generic fallback for this CPU, and what to do; nil when they fit it.
    public var blasFallbackWarning: String? {
        guard blas.hasPrefix("OpenBLAS"), vectorBits >= 256, !Self.wideOpenBLASKernels.contains(blasKernels) else { return nil }
        let suggestion = vectorBits >= 512 ? "SkylakeX (or Cooperlake where the CPU has AVX-512 BF16)" : "Haswell"
        return "OpenBLAS runs its generic \(blasKernels) kernels on a CPU with \(vectorBits)-bit vectors (it does not know "
            + "this CPU model, or OPENBLAS_CORETYPE asks for them): matrix products run several times slower than they could. "
            + "Set OPENBLAS_CORETYPE=\(suggestion) in the environment before starting digits."
    }

    /// One line: the CPU, its vector width and the BLAS kernels.
    public var summary: String {
        let fm = cpuFamilyModel.map { " (family \($0.family) model \($0.model))" } ?? ""
        let width = vectorBits >= 512 ? "AVX-512" : vectorBits >= 256 ? "AVX2" : "128-bit vectors"
        return "\(cpuModel)\(fm), \(width); BLAS: \(blas), kernels \(blasKernels)"
    }

    static func read() -> Machine {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        func field(_ name: String) -> String? {
            info.split(separator: "\n").first { $0.hasPrefix(name) }?
                .split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let flags = Set((field("flags") ?? "").split(separator: " ").map(String.init))
        var bits = 128
        if flags.contains("avx512f") { bits = 512 } else if flags.contains("avx2") || flags.contains("avx") { bits = 256 }
        var familyModel: FamilyModel?
        if let f = field("cpu family").flatMap({ Int($0) }), let m = field("model").flatMap({ Int($0) }) {
            familyModel = FamilyModel(family: f, model: m)
        }
        #if canImport(Accelerate)
        let (blas, kernels) = ("Accelerate", "Apple's")
        #else
        let blas = String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces)
        let kernels = String(cString: openblas_get_corename()).trimmingCharacters(in: .whitespaces)
        #endif
        return Machine(cpuModel: field("model name") ?? "unknown CPU", cpuFamilyModel: familyModel, vectorBits: bits,
                       blas: blas, blasKernels: kernels)
    }
}

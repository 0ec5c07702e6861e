// Memory: how the process's allocator treats the large tensors a training step allocates and frees.

#if canImport(Glibc)
import Glibc
#endif

/// Process-wide settings of the C allocator that tensors' storage comes from.
public enum Memory {
    /// Keeps freed blocks of up to 32 MiB in the process for the next allocation instead of handing them back
    /// to the operating system; idempotent, and a no-op where the C library is not glibc.
    ///
    /// By default glibc maps each block over a threshold afresh and unmaps it when freed, and returns free
    /// memory at the top of its heap: every step of a training run then allocates its activations (12.8 MB
    /// for `best`'s first layer at batch 128) in pages the kernel must fault in and zero again. With the
    /// blocks kept, `best`'s first convolution ran its forward pass in 4.3 ms instead of 11.3 ms and its first
    /// batch normalisation in 4.5 instead of 13.1 ms (`digits-bench layers best --threads 1`). The process
    /// keeps its peak footprint instead of shrinking between steps. Returns whether the allocator took the
    /// settings.
    @discardableResult
    public static func retainFreedBlocks() -> Bool {
        retained
    }

    private static let retained: Bool = {
        #if canImport(Glibc)
        // <malloc.h>'s M_MMAP_THRESHOLD and M_TRIM_THRESHOLD. Larger blocks are still mapped: 32 MiB is the
        // most glibc accepts for this threshold on 64-bit systems.
        let (mmapThreshold, trimThreshold): (Int32, Int32) = (-3, -1)
        let mapped = mallopt(mmapThreshold, 32 << 20)
        let trimmed = mallopt(trimThreshold, Int32.max)   // never give the top of the heap back
        return mapped == 1 && trimmed == 1
        #else
        return false
        #endif
    }()
}

#if canImport(Glibc)
/// glibc's `int mallopt(int param, int value)` (<malloc.h>, which the Glibc module leaves out): 1 on success.
@_silgen_name("mallopt")
private func mallopt(_ param: Int32, _ value: Int32) -> Int32
#endif

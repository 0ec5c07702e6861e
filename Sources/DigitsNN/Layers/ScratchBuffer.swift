// ScratchBuffer: memory a layer keeps from call to call, so that the steady-state step allocates nothing.

/// A block of plain values (numbers, or structs of them) a layer keeps between calls; it grows when asked
/// for more and never shrinks. Fresh memory is zero bytes.
final class ScratchBuffer<Element: BitwiseCopyable> {
    private(set) var pointer: UnsafeMutablePointer<Element>
    private(set) var capacity: Int

    init() {
        pointer = Self.zeroed(1)
        capacity = 1
    }

    /// A pointer to at least `count` elements (contents unspecified after growing).
    func reserve(_ count: Int) -> UnsafeMutablePointer<Element> {
        if count > capacity {
            pointer.deallocate()
            pointer = Self.zeroed(count)
            capacity = count
        }
        return pointer
    }

    /// `count` elements' worth of memory, every byte zero.
    private static func zeroed(_ count: Int) -> UnsafeMutablePointer<Element> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Element>.stride,
                                                   alignment: max(MemoryLayout<Element>.alignment, 64))
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<Element>.stride)
        return raw.bindMemory(to: Element.self, capacity: count)
    }

    deinit { pointer.deallocate() }
}

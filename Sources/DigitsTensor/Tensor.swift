// Tensor: contiguous Float32 storage with a shape, row-major (the last index varies fastest).
//
// Goals, in order: a plain value type a reader can follow; direct pointer access for hot loops;
// no hidden copies (Swift's copy-on-write arrays copy only when a shared buffer is written).

/// A dense, row-major array of `Float` with a shape, such as `[batch, features]` or `[batch, channels, height, width]`.
///
/// `Tensor` is a value: assigning it shares storage until one copy is written.
public struct Tensor: Equatable, Sendable {
    /// The size of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `storage.count == shape.reduce(1, *)`.
    public var storage: [Float]

    /// A tensor of the given shape with every element set to `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        self.storage = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of the given shape whose every element `fill` writes: it receives the uninitialised storage
    /// and must set all of it. Saves the zero-fill of `init(shape:repeating:)` for outputs computed in full.
    public init(shape: [Int], fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        let count = shape.reduce(1, *)
        self.shape = shape
        self.storage = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer)
            initialized = count
        }
    }

    /// A tensor of the given shape whose values are left as the allocator gave them, for an output that the
    /// caller then writes in full (Float has no invalid bit patterns); saves the zero-fill of `init(shape:repeating:)`.
    public static func unfilled(shape: [Int]) -> Tensor {
        Tensor(shape: shape) { _ in }
    }

    /// A tensor of the given shape holding `values` in row-major order.
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count,
                     "Tensor: \(values.count) values do not fill shape \(shape)")
        self.shape = shape
        self.storage = values
    }

    /// The number of elements.
    @inlinable public var count: Int { storage.count }

    /// The number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The size of the first dimension (the batch size for batched tensors).
    @inlinable public var rows: Int { shape.first ?? 1 }

    /// The number of elements per row: `count / rows`.
    @inlinable public var columns: Int { rows == 0 ? 0 : count / rows }

    /// The element at a multi-dimensional index.
    public subscript(_ index: Int...) -> Float {
        get { storage[offset(index)] }
        set { storage[offset(index)] = newValue }
    }

    private func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "Tensor: index \(index) does not match shape \(shape)")
        var flat = 0
        for (i, n) in zip(index, shape) {
            precondition(i >= 0 && i < n, "Tensor: index \(index) out of range for shape \(shape)")
            flat = flat * n + i
        }
        return flat
    }

    /// The same elements under a new shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var t = self
        t.reshape(newShape)
        return t
    }

    /// Changes the shape in place, keeping the elements.
    public mutating func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) == storage.count,
                     "Tensor: cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }

    /// Makes this tensor `newShape`, reusing its storage when the element count allows; contents are unspecified.
    public mutating func resize(_ newShape: [Int]) {
        let n = newShape.reduce(1, *)
        if n != storage.count { storage = [Float](repeating: 0, count: n) }
        shape = newShape
    }

    /// Sets every element to zero.
    public mutating func zero() {
        storage.withUnsafeMutableBufferPointer { p in p.update(repeating: 0) }
    }

    /// Calls `body` with a pointer to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the elements.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }

    /// True when every element is finite (no NaN, no infinity).
    public var isFinite: Bool {
        storage.withUnsafeBufferPointer { p in
            for x in p where !x.isFinite { return false }
            return true
        }
    }
}

extension Tensor: CustomStringConvertible {
    /// A short description: the shape and the first few elements.
    public var description: String {
        let head = storage.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(storage.count > 8 ? ", ..." : "")])"
    }
}

import Foundation

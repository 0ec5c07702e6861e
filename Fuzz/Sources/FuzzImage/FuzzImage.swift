// libFuzzer entry for FuzzTargets.image (see Sources/DigitsFuzzTargets/FuzzTargets.swift).

import DigitsFuzzTargets

/// Runs one input through FuzzTargets.image.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTargets.image(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

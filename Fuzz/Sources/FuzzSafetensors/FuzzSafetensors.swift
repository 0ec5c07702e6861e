// libFuzzer entry for FuzzTargets.safetensors (see Sources/DigitsFuzzTargets/FuzzTargets.swift).

import DigitsFuzzTargets

/// Runs one input through FuzzTargets.safetensors.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTargets.safetensors(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

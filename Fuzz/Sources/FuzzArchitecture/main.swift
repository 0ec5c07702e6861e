// libFuzzer entry for FuzzTargets.architecture (see Sources/DigitsFuzzTargets/FuzzTargets.swift).

import DigitsFuzzTargets

/// Runs one input through FuzzTargets.architecture.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArchitecture(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTargets.architecture(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

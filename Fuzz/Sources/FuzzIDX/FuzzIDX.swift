// libFuzzer entry for FuzzTargets.idx (see Sources/DigitsFuzzTargets/FuzzTargets.swift).

import DigitsFuzzTargets

/// Runs one input through FuzzTargets.idx.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTargets.idx(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

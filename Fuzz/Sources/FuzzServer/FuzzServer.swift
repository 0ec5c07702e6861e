// libFuzzer entry for FuzzTargets.server (see Sources/DigitsFuzzTargets/FuzzTargets.swift).

import DigitsFuzzTargets

/// Runs one input through FuzzTargets.server.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTargets.server(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

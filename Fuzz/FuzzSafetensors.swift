// libFuzzer target: the safetensors header (length, JSON, dtypes, shapes, offsets).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? SafetensorsFile(bytes: UnsafeRawBufferPointer(start: data, count: size), file: "fuzz.safetensors")
    return 0
}

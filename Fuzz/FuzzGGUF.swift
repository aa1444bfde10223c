// libFuzzer target: GGUF header, metadata, tensor table and the GPT-2 reading of them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = try? GPT2ModelFile.gguf(bytes: bytes, path: "fuzz.gguf", files: [])
    return 0
}

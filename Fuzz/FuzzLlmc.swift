// libFuzzer target: the llm.c checkpoint header and tensor layout.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLlmc(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? LlmcFile(bytes: UnsafeRawBufferPointer(start: data, count: size), file: "fuzz.bin")
    return 0
}

// libFuzzer target: a Hugging Face GPT-2 config.json.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? HuggingFaceConfig(bytes: Array(UnsafeBufferPointer(start: data, count: size)), file: "config.json")
    return 0
}

// libFuzzer target: the small JSON files of a Hugging Face GPT-2 folder,
// config.json and model.safetensors.index.json; each input goes to both readers.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? HuggingFaceConfig(bytes: bytes, file: "config.json")
    _ = try? SafetensorsIndex(bytes: bytes, file: SafetensorsIndex.fileName)
    return 0
}

import Foundation

// libFuzzer target: tokenizer.json, then encoding and decoding a text with it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let tokenizer = try? Tokenizer(jsonData: Data(bytes: data, count: size), sourceName: "tokenizer.json") else { return 0 }
    let text = "Hello, world! <|endoftext|> 123 déjà vu\n\n  x"
    _ = tokenizer.decode(tokenizer.encode(text))
    return 0
}

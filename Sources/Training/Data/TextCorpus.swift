import Dispatch
import Foundation
import GPT

/// Training or validation text: one file, or every `.txt` file of a folder
/// (sorted by name, so runs repeat), each file one document.
public struct TextCorpus: Sendable {
    /// The separator placed before every document: the model always sees a
    /// document start after it, and never a document's end run into the next.
    public static let documentSeparator = "<|endoftext|>"

    public let documents: [String]
    /// The file each document came from.
    public let sources: [String]

    public init(documents: [String], sources: [String]? = nil) {
        self.documents = documents
        self.sources = sources ?? documents.indices.map { "document \($0)" }
    }

    /// Reads `path`: a UTF-8 text file, or a folder whose `.txt` files are the documents.
    public init(path: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw TrainingError("\(path): no such file or folder")
        }
        var files = [path]
        if isFolder.boolValue {
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
                throw TrainingError("\(path): cannot list the folder (\(error.localizedDescription))")
            }
            files = names.filter { $0.hasSuffix(".txt") && !$0.hasPrefix(".") }.sorted()
                .map { URL(fileURLWithPath: path).appendingPathComponent($0).path }
            guard !files.isEmpty else { throw TrainingError("\(path): the folder has no .txt files") }
        }
        var documents: [String] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw TrainingError("\(file): cannot read the file")
            }
            guard let text = String(data: data, encoding: .utf8) else { throw TrainingError("\(file): not UTF-8 text") }
            documents.append(text)
        }
        self.init(documents: documents, sources: files)
    }

    /// Characters (Unicode scalars) of all documents, separators not counted:
    /// the denominator of bits per character.
    public var characterCount: Int { documents.reduce(0) { $0 + $1.unicodeScalars.count } }

    /// The token stream: the separator's id, then the document's tokens, for each document.
    /// Documents are encoded on all cores (the tokenizer is immutable).
    public func tokens(with tokenizer: Tokenizer) throws -> [Int32] {
        guard let separator = tokenizer.id(ofAddedToken: Self.documentSeparator) else {
            throw TrainingError("the tokenizer has no \(Self.documentSeparator) token to separate documents")
        }
        let encoded = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: documents.count)
        encoded.initialize(repeating: [])
        defer { encoded.deinitialize(); encoded.deallocate() }
        let shared = EncodingJob(documents: documents, tokenizer: tokenizer, results: encoded)
        DispatchQueue.concurrentPerform(iterations: documents.count) { shared.run($0) }
        var stream: [Int32] = []
        stream.reserveCapacity(encoded.reduce(0) { $0 + $1.count + 1 })
        for ids in encoded {
            stream.append(Int32(separator))
            stream.append(contentsOf: ids.lazy.map { Int32($0) })
        }
        return stream
    }
}

/// One document per iteration, each writing its own slot.
private struct EncodingJob: @unchecked Sendable {
    let documents: [String]
    let tokenizer: Tokenizer
    let results: UnsafeMutableBufferPointer<[Int]>
    func run(_ index: Int) { results[index] = tokenizer.encode(documents[index]) }
}

/// A training failure with a message for the user (bad data, mismatched files, ...).
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

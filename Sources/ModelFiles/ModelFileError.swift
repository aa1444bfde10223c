/// A model file (or folder) that cannot be used. The message names the file
/// and the tensor, key or field that is wrong, and what is allowed.
public struct ModelFileError: Error, CustomStringConvertible {
    public let description: String

    public init(_ file: String, _ problem: String) {
        description = "\(file): \(problem)"
    }
}

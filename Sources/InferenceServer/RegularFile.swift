import Glibc

/// The check that a file the server reads at start-up is a regular file:
/// opening a FIFO blocks until something writes to it, and a device or a
/// directory is never a model, so those are refused before any read.
public enum RegularFile {
    /// Throws a ``ConfigError`` naming `path`, its `role` and what it is,
    /// unless it is a regular file (or a link to one), or a folder where
    /// `folderAllowed` (a Hugging Face model). A missing file passes: its
    /// reader reports that itself, with its own message.
    public static func require(_ path: String, role: String, folderAllowed: Bool = false) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        let kind: String
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR where folderAllowed: return
        case S_IFIFO: kind = "a FIFO (named pipe)"
        case S_IFDIR: kind = "a directory"
        case S_IFCHR, S_IFBLK: kind = "a device"
        case S_IFSOCK: kind = "a socket"
        default: kind = "not a regular file"
        }
        let allowed = folderAllowed ? "a regular file or a model folder" : "a regular file"
        throw ConfigError(description: "\(path): the \(role) must be \(allowed); this is \(kind)")
    }
}

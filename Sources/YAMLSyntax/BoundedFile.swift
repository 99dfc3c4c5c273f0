#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads an input file whole, never more than a limit: the manifests, the config file and a kubeconfig are
/// all read through here, so none of them can make ipvsd allocate without bound (a stray 10 GB file, a
/// symlink to /dev/zero) and each refuses the same way.
public enum BoundedFile {
    /// Why a read failed.
    public enum Failure: Error, Sendable, Equatable {
        case errno(Int32)
        /// More than the limit: the file as it was found (fstat), or as it grew while read.
        case tooLarge
        /// Not a regular file, where only one is accepted.
        case notRegular
    }

    /// The contents of `path`, at most `limit` bytes.
    /// - Parameter regularOnly: refuse anything but a regular file. A manifest directory must hold files:
    ///   a FIFO there would block the reload and a device would never end. A file named on the command line
    ///   (`--config <(…)`) may be a pipe; it is still read only up to the limit.
    public static func read(_ path: String, limit: Int, regularOnly: Bool = true) -> Result<[UInt8], Failure> {
        var descriptor: Int32
        // O_NONBLOCK: opening a FIFO without a writer would block; it is cleared below for what is read.
        repeat { descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { return .failure(.errno(errno)) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return .failure(.errno(errno)) }
        let regular = status.st_mode & S_IFMT == S_IFREG
        if !regular {
            guard !regularOnly else { return .failure(.notRegular) }
            let flags = fcntl(descriptor, F_GETFL)
            guard flags >= 0, fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
                return .failure(.errno(errno))
            }
        }
        guard !regular || status.st_size <= limit else { return .failure(.tooLarge) }
        // The size can change between fstat and read, and a pipe has none: read up to one byte past the
        // limit to notice more.
        var bytes = [UInt8](repeating: 0, count: regular ? Int(max(status.st_size, 0)) + 1 : min(limit + 1, 4096))
        var count = 0
        while true {
            if count == bytes.count {
                guard bytes.count <= limit else { return .failure(.tooLarge) }
                bytes.append(contentsOf: repeatElement(0, count: min(max(bytes.count, 4096), limit + 1 - bytes.count)))
            }
            let result = bytes.withUnsafeMutableBytes { raw in
                Glibc.read(descriptor, raw.baseAddress! + count, raw.count - count)
            }
            if result < 0 {
                if errno == EINTR { continue }
                return .failure(.errno(errno))
            }
            if result == 0 { break }
            count += result
        }
        guard count <= limit else { return .failure(.tooLarge) }
        bytes.removeSubrange(count...)
        return .success(bytes)
    }

    /// `64 MiB`, `1 MiB`, `512 bytes`: the limit as the errors name it.
    public static func describe(limit: Int) -> String {
        limit >= 1 << 20 && limit % (1 << 20) == 0 ? "\(limit >> 20) MiB" : "\(limit) bytes"
    }
}

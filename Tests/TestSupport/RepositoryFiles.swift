import Foundation

/// Files of this repository, found from this source file's path, so tests read what ships (such as
/// deploy/examples) whatever the working directory.
public enum RepositoryFiles {
    /// Why a repository file could not be read.
    public struct ReadError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String

        public var description: String { "cannot read \(path): \(reason)" }
    }

    /// The directory holding Package.swift, searched upward from this file.
    public static let root: URL = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory
            }
            directory.deleteLastPathComponent()
        }
        // Only a build moved away from its sources gets here; the read below then names the missing path.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    }()

    /// The absolute path of `relativePath` (such as `deploy/examples/config.yaml`).
    public static func path(_ relativePath: String) -> String {
        root.appendingPathComponent(relativePath).path
    }

    /// The UTF-8 text of `relativePath`.
    /// - Throws: `ReadError` naming the absolute path when the file is missing or not UTF-8.
    public static func text(_ relativePath: String) throws(ReadError) -> String {
        let path = path(relativePath)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReadError(path: path, reason: "no such file or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ReadError(path: path, reason: "not UTF-8 text")
        }
        return text
    }
}

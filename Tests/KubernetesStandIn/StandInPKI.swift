import Foundation

/// A throwaway PKI for the stand-in API server, made by openssl in a temporary directory: a CA, a server
/// certificate it signs for 127.0.0.1 and localhost, and a second CA that signed nothing (the "wrong CA").
public struct StandInPKI: Sendable {
    public let directory: String
    public var caCertificate: String { directory + "/ca.crt" }
    public var serverCertificate: String { directory + "/server.crt" }
    public var serverKey: String { directory + "/server.key" }
    public var wrongCACertificate: String { directory + "/wrong-ca.crt" }

    /// The PKI of this test process, made once: openssl blocks the thread that waits for it, and tests run
    /// on the few threads of the cooperative pool.
    private static let shared: Result<StandInPKI, StandInError> = {
        do {
            return .success(try generate())
        } catch let error as StandInError {
            return .failure(error)
        } catch {
            return .failure(StandInError("making the stand-in PKI: \(error)"))
        }
    }()

    /// - Throws: when openssl is missing or fails (its output in the error).
    public static func make() throws -> StandInPKI { try shared.get() }

    /// The directory `shared` made, removed when the process exits (it holds CA keys and the tests'
    /// kubeconfigs; every test process made one and left it in /tmp).
    nonisolated(unsafe) private static var madeDirectory: String?

    private static func generate() throws -> StandInPKI {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ipvsd-standin-pki-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        // Written once, here, under `shared`'s one-time initialisation; read only at exit.
        madeDirectory = directory
        atexit {
            if let made = StandInPKI.madeDirectory { try? FileManager.default.removeItem(atPath: made) }
        }
        let pki = StandInPKI(directory: directory)
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let ca = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        try openssl(
            ["req", "-x509"] + curve + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "3650"]
                + ["-subj", "/CN=ipvsd stand-in CA"] + ca,
            in: directory
        )
        try openssl(
            ["req", "-x509"] + curve + ["-keyout", "wrong-ca.key", "-out", "wrong-ca.crt", "-days", "3650"]
                + ["-subj", "/CN=some other CA"] + ca,
            in: directory
        )
        try openssl(
            ["req"] + curve + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=stand-in"],
            in: directory
        )
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
            .write(toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
        try openssl(
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"]
                + ["-out", "server.crt", "-days", "3650", "-extfile", "server.ext"],
            in: directory
        )
        return pki
    }

    private static func openssl(_ arguments: [String], in directory: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else {
            throw StandInError("openssl is not installed at /usr/bin/openssl; the stand-in API server needs it")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StandInError("openssl \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }
}

public struct StandInError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

import Foundation
import KubernetesWire
import Testing

@testable import KubernetesAPI

@Suite struct KubeConfigTests {
    let directory: String

    init() throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(
            toFile: directory + "/ca.crt",
            atomically: true,
            encoding: .utf8
        )
    }

    func config(user: String, extraContext: String = "") -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: a
        clusters:
        - name: one
          cluster:
            server: https://10.0.0.1:6443
            certificate-authority: ca.crt
        - name: two
          cluster:
            server: https://api.example:443/
            certificate-authority-data: \(Data("PEM-B".utf8).base64EncodedString())
            insecure-skip-tls-verify: true
        users:
        - name: u
          user:
        \(user)
        contexts:
        - name: a
          context: {cluster: one, user: u}
        - name: b
          context: {cluster: two, user: u}
        \(extraContext)
        """
    }

    @Test func currentContextWithRelativeCAFileAndToken() throws {
        let connection = try KubeConfig.parse(
            config(user: "    token: abc"),
            file: "kc",
            directory: directory,
            context: nil
        )
        #expect(connection.server == "https://10.0.0.1:6443")
        #expect(connection.certificateAuthority.map { String(decoding: $0, as: UTF8.self) }?.contains("MIIB") == true)
        #expect(try connection.token?.current() == "abc")
        #expect(!connection.insecureSkipTLSVerify)
        #expect(connection.origin == "kubeconfig kc, context a")
    }

    @Test func namedContextWithDataFieldsAndInsecure() throws {
        let connection = try KubeConfig.parse(
            config(user: "    token: abc"),
            file: "kc",
            directory: directory,
            context: "b"
        )
        #expect(connection.server == "https://api.example:443")
        #expect(connection.certificateAuthority == Array("PEM-B".utf8))
        #expect(connection.insecureSkipTLSVerify)
    }

    @Test func tokenFileIsReadAgainWhenItChanges() throws {
        let path = directory + "/token"
        try "first\n".write(toFile: path, atomically: true, encoding: .utf8)
        let connection = try KubeConfig.parse(
            config(user: "    tokenFile: token"),
            file: "kc",
            directory: directory,
            context: nil
        )
        #expect(try connection.token?.current() == "first")
        try "second-and-longer".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try connection.token?.current() == "second-and-longer")
    }

    @Test(arguments: [
        ("    exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}", "a program (exec)"),
        ("    auth-provider: {name: gcp}", "an auth-provider plugin"),
        ("    username: admin\n    password: secret", "basic authentication"),
        ("    client-certificate-data: QUJD", "both client-certificate and client-key"),
    ])
    func unsupportedUsersAreNamed(user: String, expected: String) throws {
        do {
            _ = try KubeConfig.parse(config(user: user), file: "kc", directory: directory, context: nil)
            Issue.record("accepted: \(user)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
            #expect(error.description.hasPrefix("kc:"), "\(error.description)")
        }
    }

    @Test func missingContextAndBadServerAreLocated() throws {
        #expect(throws: (any Error).self) {
            _ = try KubeConfig.parse(config(user: "    token: a"), file: "kc", directory: directory, context: "zzz")
        }
        let text = config(user: "    token: a").replacingOccurrences(of: "https://10.0.0.1:6443", with: "ftp://x")
        do {
            _ = try KubeConfig.parse(text, file: "kc", directory: directory, context: nil)
            Issue.record("an ftp server was accepted")
        } catch {
            #expect(error.description.contains("clusters[0].cluster.server: must be an https:// URL"))
        }
    }

    @Test func inClusterNeedsTheServiceVariablesAndReadsTheAccount() throws {
        #expect(throws: KubernetesAPIError.self) {
            _ = try APIConnection.inCluster(environment: [:], directory: directory)
        }
        try "tok".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        let connection = try APIConnection.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"],
            directory: directory
        )
        #expect(connection.server == "https://[fd00::1]:443")
        #expect(try connection.token?.current() == "tok")
        #expect(connection.certificateAuthority != nil)
    }

    @Test func tokenWithALineBreakIsRefused() throws {
        try "abc\ndef".write(toFile: directory + "/bad", atomically: true, encoding: .utf8)
        #expect(throws: KubernetesAPIError.self) { _ = try TokenSource.file(directory + "/bad").current() }
    }
}

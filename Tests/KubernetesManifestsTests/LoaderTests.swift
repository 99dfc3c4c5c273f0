import Foundation
import KubernetesManifests
import Testing
import YAMLSyntax

@Suite struct LoaderTests {
    @Test func directoryLoadRecursesSkipsHiddenAndOtherFilesInPathOrder() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("manifests-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let service = { (name: String) in "apiVersion: v1\nkind: Service\nmetadata: {name: \(name)}\nspec: {}\n" }
        let files = [
            "b.yaml": service("b"), "sub/a.yml": service("a"), "c.json": service("c"),
            ".hidden/x.yaml": service("x"), "notes.txt": service("t"),
            "sub/bad.yaml": "apiVersion: v1\nkind: Service\n",
        ]
        for (path, text) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        #expect(
            throws: ManifestErrors([
                LocatedError(file: root + "/sub/bad.yaml", line: 1, field: "metadata", message: "is required")
            ])
        ) {
            _ = try ManifestLoader.load(path: root)
        }
        try FileManager.default.removeItem(atPath: root + "/sub/bad.yaml")
        #expect(try ManifestLoader.load(path: root).services.map(\.name) == ["b", "c", "a"])
    }

    @Test func locatedYAMLAccessorsReportFieldAndLine() throws {
        let doc = try LocatedYAML.parse(
            "metricsAddress: 0.0.0.0:9100\nreconcile:\n  interval: 2s\n  extra: 1\n",
            file: "ipvsd.yaml"
        )
        #expect(try doc.string("metricsAddress") == "0.0.0.0:9100")
        let reconcile = try #require(try doc.mapping("reconcile"))
        #expect(try reconcile.duration("interval") == .seconds(2))
        #expect(
            reconcile.unknownKeys(allowed: ["interval"]).map(\.description) == [
                "ipvsd.yaml:4: reconcile.extra: unknown field"
            ]
        )
        #expect(
            throws: LocatedError(
                file: "ipvsd.yaml",
                line: 1,
                field: "metricsAddress",
                message: "must be an integer, got \"0.0.0.0:9100\""
            )
        ) {
            _ = try doc.int("metricsAddress")
        }
    }
}

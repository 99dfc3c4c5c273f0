import Logging
import Testing

@testable import Agent

/// Quoting of log values: a value with spaces, quotes or newlines must stay one field on one line.
@Suite struct StructuredLogHandlerTests {
    @Test(
        arguments: [
            ("synced", "synced"),
            ("10.96.100.50:80/tcp", "10.96.100.50:80/tcp"),
            ("", "\"\""),
            ("two words", "\"two words\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("a=b", "\"a=b\""),
            ("line one\nline two", "\"line one\\nline two\""),
            ("cr\r", "\"cr\\r\""),
        ]
    )
    func logfmtQuotesOnlyWhenNeeded(value: String, expected: String) {
        #expect(StructuredLogHandler.logfmtValue(value) == expected)
    }

    @Test(
        arguments: [
            ("synced", "\"synced\""),
            ("two words", "\"two words\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("line one\nline two", "\"line one\\nline two\""),
            ("tab\there", "\"tab\\there\""),
            ("bell\u{07}", "\"bell\\u0007\""),
            ("é ✓", "\"é ✓\""),
        ]
    )
    func jsonEscapesQuotesBackslashesAndControls(value: String, expected: String) {
        #expect(StructuredLogHandler.jsonString(value) == expected)
    }

    @Test func timestampIsISO8601WithMilliseconds() throws {
        let stamp = StructuredLogHandler.timestamp()
        let pattern = try Regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")
        #expect(stamp.wholeMatch(of: pattern) != nil, "\(stamp)")
    }

    @Test func metadataIsKeptPerHandler() {
        var handler = StructuredLogHandler(label: "test", format: .json, level: .debug)
        handler[metadataKey: "vs"] = "10.96.100.50:80/tcp"
        #expect(handler[metadataKey: "vs"] == "10.96.100.50:80/tcp")
        #expect(handler.logLevel == .debug)
    }
}

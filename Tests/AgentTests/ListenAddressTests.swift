import Agent
import IPVS
import Testing

@Suite struct ListenAddressTests {
    @Test func ipv4AndBracketedIPv6AreParsed() throws {
        let v4 = try ListenAddress(parsing: "127.0.0.1:9750")
        #expect(v4.address == IPAddress("127.0.0.1"))
        #expect(v4.port == 9750)
        #expect(v4.host == "127.0.0.1")
        #expect(v4.description == "127.0.0.1:9750")
        let v6 = try ListenAddress(parsing: "[::1]:80")
        #expect(v6.address == IPAddress("::1"))
        #expect(v6.port == 80)
        #expect(v6.host == "::1")
        #expect(v6.description == "[::1]:80")
    }

    @Test(arguments: ["", ":", "[]:80", "[::1]", "[::1]:", "1.2.3.4:080a", "1.2.3.4:999999", "[fe80::1%eth0]:80"])
    func malformedAddressesAreRefused(text: String) {
        #expect(throws: ListenAddress.ParseError.self) { try ListenAddress(parsing: text) }
    }
}

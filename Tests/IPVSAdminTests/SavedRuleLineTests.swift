import IPVS
import TestSupport
import Testing

@testable import IPVSAdmin

/// `SavedRuleLine` reads the lines `-S` writes without the general parser; it must take those lines and
/// must answer, for any line it takes, exactly what the general parser answers.
@Suite struct SavedRuleLineTests {
    let parser = IpvsadmParser(programName: "ipvsctl", resolver: NumericResolver())

    /// The saved-rule reader's answer for one line, or nil when it leaves the line to the general parser.
    func direct(_ line: String) -> AdminCommand? {
        var line = line
        return line.withUTF8 { SavedRuleLine.command(in: $0) }
    }

    func general(_ line: String) -> AdminCommand? {
        let words = RestoreParser.words(of: Substring(line))
        return words.isEmpty ? nil : try? parser.parse(words)
    }

    @Test func readsWhatSaveWritesAsTheGeneralParserDoes() {
        let lines = [
            "-A -t 10.96.0.1:443 -s rr",
            "-A -u 10.96.0.10:53 -s wlc -p 360",
            "-A -t 10.96.0.11:0 -s sh -p 60",
            "-a -t 10.96.0.1:443 -r 10.244.1.5:6443 -m -w 1",
            "-a -u 10.96.0.10:53 -r 10.244.0.3:5353 -g -w 0",
            "-a -t 10.96.0.1:443 -r 10.244.1.6:1 -i -w 2147483647",
            "ipvsadm -a -t 10.96.0.1:443 -r 10.244.1.7:6443 -m -w 3 -x 10 -y 5",
            "ipvsctl -A -t 10.96.0.2:80 -p 5 -s mh",
            "-a\t-t 0.0.0.0:65535 -r 255.255.255.255:8080 -y 0 -w 7 -m\r",
        ]
        for line in lines {
            let command = direct(line)
            #expect(command != nil, "not read directly: \(line)")
            #expect(command == general(line), "\(line)")
        }
        // Direct routing and tunnelling keep the service's port whatever -r says, as ipvsadm does.
        #expect(
            direct("-a -u 10.96.0.10:53 -r 10.244.0.3:5353 -g -w 0")?.operation
                == .addServer(
                    RealServer(address: IPAddress("10.244.0.3")!, port: 53, forwarding: .directRouting, weight: 0),
                    to: .service(.udp, IPAddress("10.96.0.10")!, port: 53)
                )
        )
    }

    @Test func leavesEveryOtherLineToTheGeneralParser() {
        let lines = [
            "-A -t 10.96.0.1:0 -s rr",  // zero port without persistence: the general parser's error
            "-A -t 010.96.0.1:80 -s rr",  // inet_aton reads 010 as octal
            "-A -t 10.96.1:80 -s rr",  // inet_aton's three-part form
            "-A -t [fd00::1]:80 -s rr",
            "-A -t web.local:80 -s rr",
            "-A -t 10.96.0.1:http -s rr",
            "-A -t 10.96.0.1:80 -s rr -p",
            "-A -t 10.96.0.1:80 -s rr -p 0",
            "-A -t 10.96.0.1:80 -s rr -p +5",
            "-A -t 10.96.0.1:80 -s rr -s wrr",
            "-A -t 10.96.0.1:80 -s ipvsadm",
            "-A -t 10.96.0.1:80 -s RR",
            "-A -t 10.96.0.1:80 -s rr # web",
            "-A -t 10.96.0.1:80 -s rr -o",
            "-A -t 10.96.0.1:80 --scheduler rr",
            "-A -t 10.96.0.1:80 -srr",
            "-A -t 10.96.0.1:65536 -s rr",
            "-a -t 10.96.0.1:80 -m -w 1",  // no real server
            "-a -t 10.96.0.1:80 -r 10.244.0.1:80 -m -g",
            "-a -t 10.96.0.1:80 -r 10.244.0.1:80 -w 2147483648",
            "-a -t 10.96.0.1:80 -r 10.244.0.1:80 -w 1 -w 2",
            "-a -t 10.96.0.1:80 -r 10.244.0.1 -m",
            "-a -t 10.96.0.1:80 -r 10.244.0.1:80 -m -s rr",
            "-e -t 10.96.0.1:80 -r 10.244.0.1:80 -m",
            "-A -f 7 -s rr",
            "-A -t 10.96.0.1:80 -s rr extra",
            "ipvsadm ipvsadm -A -t 10.96.0.1:80 -s rr",
            "-A\u{301} -t 10.96.0.1:80",
            "",
            "   ",
        ]
        for line in lines {
            #expect(direct(line) == nil, "read directly: \(line)")
        }
    }

    /// Lines built from the saved-rule shapes, with words swapped, dropped, doubled and mangled: wherever the
    /// direct reader answers, the general parser gives the same command, and the direct reader takes most
    /// of the well-formed ones (so the comparison is not vacuous).
    @Test func agreesWithTheGeneralParserOnMutatedLines() {
        var random = SplitMix64(seed: 0x5eed)
        let values = [
            "10.0.0.1:80", "10.0.0.1:0", "255.255.255.255:65535", "1.2.3.4", "01.2.3.4:80", "1.2.3:80", "[::1]:80",
            "0", "1", "360", "2147483647", "2147483648", "-1", "+1", "rr", "wlc", "ipvsadm", "#", "x", "99999999999",
        ]
        let options = ["-A", "-a", "-t", "-u", "-s", "-p", "-r", "-m", "-g", "-i", "-w", "-x", "-y", "-o", "-E", "--"]
        var directly = 0
        var agreed = 0
        func number(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &random) }
        func pick(_ items: [String]) -> String { items[number(items.count)] }
        for _ in 0..<20_000 {
            var words =
                number(2) == 0
                ? ["-A", pick(["-t", "-u"]), "10.96.0.\(number(256)):\(number(3) * 80)", "-s", "rr"]
                : [
                    "-a", pick(["-t", "-u"]), "10.96.0.1:80", "-r", "10.244.0.\(number(256)):8080",
                    pick(["-m", "-g", "-i"]), "-w", "\(number(3))",
                ]
            for _ in 0..<number(4) {
                let index = number(words.count + 1)
                switch number(4) {
                case 0: words.insert(pick(options), at: index)
                case 1: words.insert(pick(values), at: index)
                case 2: if index < words.count { words.remove(at: index) }
                default: if index < words.count { words[index] = pick(values + options) }
                }
            }
            let line = words.joined(separator: pick([" ", "\t", "  "]))
            guard let command = direct(line) else { continue }
            directly += 1
            let expected = general(line)
            #expect(command == expected, "\(line)")
            if command == expected { agreed += 1 }
        }
        #expect(directly > 3_000)  // 4,659 with this seed
        #expect(agreed == directly)
    }

    @Test func restoreGivesTheSameLinesWithAndWithoutTheDirectReader() throws {
        var text = ""
        for service in 0..<300 {
            text += "-A -t 10.96.\(service / 256).\(service % 256):80 -s rr\n"
            for server in 0..<5 {
                text +=
                    "-a -t 10.96.\(service / 256).\(service % 256):80 -r 10.244.\(service % 256).\(server):8080 -m -w 1\n"
            }
            if service % 50 == 0 { text += "# a comment\n-A -t [fd00::\(service + 1)]:80 -s wlc\n\n" }
        }
        let direct = try RestoreParser.parse(text, parser: parser)
        let general = try RestoreParser.parse(text, parser: parser, readingSavedRules: false)
        #expect(direct.count == 300 * 6 + 6)
        #expect(direct == general)
        let bad = text + "-a -t 10.96.0.0:80 -r 10.244.0.9:8080 -m -w -1\n"
        #expect(throws: RestoreFailure.self) { try RestoreParser.parse(bad, parser: parser) }
    }
}

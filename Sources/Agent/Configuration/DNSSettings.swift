import DNSCodec
import YAMLSyntax

/// The `dns:` section: where the Service-name responder listens (UDP and TCP on the same address and port)
/// and the cluster domain it is authoritative for.
public struct DNSSettings: Sendable, Equatable {
    public var listen: ListenAddress
    /// Without a trailing dot, as in `cluster.local`.
    public var domain: String

    public init(listen: ListenAddress, domain: String = "cluster.local") {
        self.listen = listen
        self.domain = domain
    }

    /// The domain as a DNS name; `domain` is validated when parsed, so this cannot fail for a loaded config.
    var domainName: DNSName { (try? DNSName(domain)) ?? .root }
}

extension AgentConfiguration {
    /// `dns: {listen: ADDRESS:PORT, domain: cluster.local}`; `listen` is required.
    static func parseDNS(_ node: LocatedYAML, into config: inout AgentConfiguration) -> [LocatedError] {
        var errors = node.unknownKeys(allowed: ["listen", "domain"])
        var listen: ListenAddress?
        var domain = "cluster.local"
        do throws(LocatedError) {
            guard let item = node["listen"] else { throw node.error("dns.listen is required, such as 10.96.0.10:53") }
            let text = try item.asString()
            do throws(ListenAddress.ParseError) { listen = try ListenAddress(parsing: text) } catch {
                throw item.error("must be IP:PORT such as 10.96.0.10:53 or [fd00::a]:53: \(error)")
            }
        } catch {
            errors.append(error)
        }
        do throws(LocatedError) {
            if let item = node["domain"] {
                let text = try item.asString()
                if let problem = domainProblem(text) { throw item.error(problem) }
                domain = text.hasSuffix(".") ? String(text.dropLast()) : text
            }
        } catch {
            errors.append(error)
        }
        if errors.isEmpty, let listen { config.dns = DNSSettings(listen: listen, domain: domain) }
        return errors
    }

    /// A domain must be a valid name with room for `NAME.NAMESPACE.svc` (63 + 63 + 3 bytes and their
    /// lengths), made of letters, digits and hyphens.
    static func domainProblem(_ text: String) -> String? {
        let name: DNSName
        do throws(DNSError) { name = try DNSName(text) } catch {
            return "must be a domain name such as cluster.local: \(error.message)"
        }
        guard !name.labels.isEmpty else { return "must not be the root" }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-".utf8)
        guard name.labels.allSatisfy({ $0.allSatisfy(allowed.contains) }) else {
            return "must be letters, digits, hyphens and dots, got \"\(text)\""
        }
        guard name.wireLength + 64 + 64 + 4 <= DNSName.maxWireLength else {
            return
                "is \(name.wireLength - 1) bytes; at most \(DNSName.maxWireLength - 134) leave room for NAME.NAMESPACE.svc"
        }
        return nil
    }
}

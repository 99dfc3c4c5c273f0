import IPVS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// ipvsadm's wording of kernel errors (`ipvs_strerror`), plus ipvsctl's hints for the common traps.
public enum KernelErrorText {
    /// What ipvsadm prints for `error`, which came from `operation` (nil for reads of services).
    public static func message(_ error: IPVSError, operation: IPVSOperation?) -> String {
        guard let errno = error.errno else { return error.message }
        switch (operation, errno) {
        case (.addService?, EEXIST): return "Service already exists"
        case (.addService?, ENOENT), (.updateService?, ENOENT): return "Scheduler or persistence engine not found"
        case (.updateService?, ESRCH), (.deleteService?, ESRCH), (.zero?, ESRCH): return "No such service"
        case (.addServer?, ESRCH), (.updateServer?, ESRCH), (.deleteServer?, ESRCH): return "Service not defined"
        case (.addServer?, EEXIST): return "Destination already exists"
        case (.updateServer?, ENOENT), (.deleteServer?, ENOENT): return "No such destination"
        case (.startDaemon?, EEXIST): return "Daemon has already run"
        case (.stopDaemon?, ESRCH): return "No daemon is running"
        case (nil, ESRCH): return "No such service"
        default: break
        }
        switch errno {
        case EPERM: return "Permission denied (you must be root)"
        case EINVAL: return "Invalid operation.  Possibly wrong module version, address not unicast, ..."
        case ENOPROTOOPT: return "Protocol not available"
        case ENOMEM: return "Memory allocation problem"
        case EOPNOTSUPP: return "Operation not supported with IPv6"
        case EAFNOSUPPORT: return "Operation not supported with specified address family"
        case EMSGSIZE: return "Module is wrong version"
        default: return String(cString: strerror(errno))
        }
    }

    /// A line that says what to do about a common failure, or nil.
    /// - Parameter programName: how the hint names the program.
    public static func hint(_ error: IPVSError, operation: IPVSOperation?, programName: String = "ipvsctl") -> String? {
        if error.code == .ipvsUnavailable {
            return "hint: load the IPVS module with `modprobe ip_vs` (the kernel needs CONFIG_IP_VS)"
        }
        guard let errno = error.errno else { return nil }
        switch (operation, errno) {
        case (_, EPERM), (_, EACCES):
            return "hint: IPVS needs CAP_NET_ADMIN (in the host's initial user namespace): run as root"
        case (.addService(let vs)?, ENOENT), (.updateService(let vs)?, ENOENT):
            var text = "hint: the kernel has no scheduler '\(vs.scheduler)': try `modprobe ip_vs_\(vs.scheduler)`"
            if let pe = vs.persistenceEngine { text += " (persistence engine '\(pe)': `modprobe ip_vs_pe_\(pe)`)" }
            return text
        case (.addServer(let rs, let vs)?, EINVAL), (.updateServer(let rs, let vs)?, EINVAL):
            if rs.address.family != vs.family {
                return "hint: the kernel refuses a real server of another address family while a sync daemon runs"
                    + " (`\(programName) -L --daemon`)"
            }
            return "hint: the kernel refused real server \(rs.address): it must be a unicast or local address,"
                + " not multicast, broadcast or unspecified (check `ip route get \(rs.address)`)"
        case (.startDaemon?, EINVAL):
            // ip_vs_genl_new_daemon: the sync protocol cannot carry mixed-family connections.
            return "hint: the kernel refuses sync daemons while a service has a real server of another address"
                + " family (a tunnel); delete it first"
        case (.startDaemon(let daemon)?, ENODEV):
            return "hint: no interface '\(daemon.interface)' in this network namespace; name one with --mcast-interface"
        case (.startDaemon(let daemon)?, ENETUNREACH):
            return "hint: a master sync daemon needs its interface up: `ip link set \(daemon.interface) up`"
        default:
            return nil
        }
    }
}

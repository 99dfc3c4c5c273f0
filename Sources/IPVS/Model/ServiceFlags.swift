internal import CNetlink

/// Flags of a virtual service (`struct ip_vs_flags`).
public struct ServiceFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Persistent service. The corresponding C constant is `IP_VS_SVC_F_PERSISTENT`.
    public static let persistent = ServiceFlags(rawValue: UInt32(IP_VS_SVC_F_PERSISTENT))
    /// Set by the kernel on every listed service; stripped when decoding. `IP_VS_SVC_F_HASHED`.
    public static let hashed = ServiceFlags(rawValue: UInt32(IP_VS_SVC_F_HASHED))
    /// One-packet scheduling (UDP): every datagram is scheduled. `IP_VS_SVC_F_ONEPACKET`.
    public static let onePacket = ServiceFlags(rawValue: UInt32(IP_VS_SVC_F_ONEPACKET))
    /// Scheduler flag 1. `IP_VS_SVC_F_SCHED1`.
    public static let scheduler1 = ServiceFlags(rawValue: UInt32(IP_VS_SVC_F_SCHED1))
    /// Scheduler flag 2. `IP_VS_SVC_F_SCHED2`.
    public static let scheduler2 = ServiceFlags(rawValue: UInt32(IP_VS_SVC_F_SCHED2))
    /// Scheduler flag 3. `IP_VS_SVC_F_SCHED3`.
    public static let scheduler3 = ServiceFlags(rawValue: UInt32(IP_VS_SVC_F_SCHED3))

    /// `sh`: pick another server when the hashed one is unavailable. `IP_VS_SVC_F_SCHED_SH_FALLBACK`.
    public static let sourceHashFallback = scheduler1
    /// `sh`: hash the source port too. `IP_VS_SVC_F_SCHED_SH_PORT`.
    public static let sourceHashPort = scheduler2
    /// `mh`: pick another server when the hashed one is unavailable (same bit as sh-fallback).
    public static let maglevFallback = scheduler1
    /// `mh`: hash the source port too (same bit as sh-port).
    public static let maglevPort = scheduler2

    /// Every flag a caller may set; the kernel owns `hashed`.
    public static let settable: ServiceFlags = [.persistent, .onePacket, .scheduler1, .scheduler2, .scheduler3]
}

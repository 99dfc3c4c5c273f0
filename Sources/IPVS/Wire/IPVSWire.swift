internal import CNetlink

/// The numbers of the IPVS generic-netlink ABI, taken from `<linux/ip_vs.h>` so they cannot drift.
enum IPVSWire {
    enum Command {
        static let newService = UInt8(IPVS_CMD_NEW_SERVICE)
        static let setService = UInt8(IPVS_CMD_SET_SERVICE)
        static let delService = UInt8(IPVS_CMD_DEL_SERVICE)
        static let getService = UInt8(IPVS_CMD_GET_SERVICE)
        static let newDest = UInt8(IPVS_CMD_NEW_DEST)
        static let setDest = UInt8(IPVS_CMD_SET_DEST)
        static let delDest = UInt8(IPVS_CMD_DEL_DEST)
        static let getDest = UInt8(IPVS_CMD_GET_DEST)
        static let newDaemon = UInt8(IPVS_CMD_NEW_DAEMON)
        static let delDaemon = UInt8(IPVS_CMD_DEL_DAEMON)
        static let getDaemon = UInt8(IPVS_CMD_GET_DAEMON)
        static let setConfig = UInt8(IPVS_CMD_SET_CONFIG)
        static let getConfig = UInt8(IPVS_CMD_GET_CONFIG)
        static let getInfo = UInt8(IPVS_CMD_GET_INFO)
        static let zero = UInt8(IPVS_CMD_ZERO)
        static let flush = UInt8(IPVS_CMD_FLUSH)
    }

    enum Top {
        static let service = UInt16(IPVS_CMD_ATTR_SERVICE)
        static let dest = UInt16(IPVS_CMD_ATTR_DEST)
        static let daemon = UInt16(IPVS_CMD_ATTR_DAEMON)
        static let timeoutTCP = UInt16(IPVS_CMD_ATTR_TIMEOUT_TCP)
        static let timeoutTCPFin = UInt16(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN)
        static let timeoutUDP = UInt16(IPVS_CMD_ATTR_TIMEOUT_UDP)
    }

    enum Service {
        static let af = UInt16(IPVS_SVC_ATTR_AF)
        static let proto = UInt16(IPVS_SVC_ATTR_PROTOCOL)
        static let addr = UInt16(IPVS_SVC_ATTR_ADDR)
        static let port = UInt16(IPVS_SVC_ATTR_PORT)
        static let fwmark = UInt16(IPVS_SVC_ATTR_FWMARK)
        static let schedName = UInt16(IPVS_SVC_ATTR_SCHED_NAME)
        static let flags = UInt16(IPVS_SVC_ATTR_FLAGS)
        static let timeout = UInt16(IPVS_SVC_ATTR_TIMEOUT)
        static let netmask = UInt16(IPVS_SVC_ATTR_NETMASK)
        static let stats = UInt16(IPVS_SVC_ATTR_STATS)
        static let peName = UInt16(IPVS_SVC_ATTR_PE_NAME)
        static let stats64 = UInt16(IPVS_SVC_ATTR_STATS64)
    }

    enum Dest {
        static let addr = UInt16(IPVS_DEST_ATTR_ADDR)
        static let port = UInt16(IPVS_DEST_ATTR_PORT)
        static let fwdMethod = UInt16(IPVS_DEST_ATTR_FWD_METHOD)
        static let weight = UInt16(IPVS_DEST_ATTR_WEIGHT)
        static let upperThreshold = UInt16(IPVS_DEST_ATTR_U_THRESH)
        static let lowerThreshold = UInt16(IPVS_DEST_ATTR_L_THRESH)
        static let activeConns = UInt16(IPVS_DEST_ATTR_ACTIVE_CONNS)
        static let inactiveConns = UInt16(IPVS_DEST_ATTR_INACT_CONNS)
        static let persistConns = UInt16(IPVS_DEST_ATTR_PERSIST_CONNS)
        static let stats = UInt16(IPVS_DEST_ATTR_STATS)
        static let addrFamily = UInt16(IPVS_DEST_ATTR_ADDR_FAMILY)
        static let stats64 = UInt16(IPVS_DEST_ATTR_STATS64)
        static let tunType = UInt16(IPVS_DEST_ATTR_TUN_TYPE)
        static let tunPort = UInt16(IPVS_DEST_ATTR_TUN_PORT)
        static let tunFlags = UInt16(IPVS_DEST_ATTR_TUN_FLAGS)
    }

    enum Daemon {
        static let state = UInt16(IPVS_DAEMON_ATTR_STATE)
        static let interface = UInt16(IPVS_DAEMON_ATTR_MCAST_IFN)
        static let syncID = UInt16(IPVS_DAEMON_ATTR_SYNC_ID)
        static let syncMaxLength = UInt16(IPVS_DAEMON_ATTR_SYNC_MAXLEN)
        static let group = UInt16(IPVS_DAEMON_ATTR_MCAST_GROUP)
        static let group6 = UInt16(IPVS_DAEMON_ATTR_MCAST_GROUP6)
        static let port = UInt16(IPVS_DAEMON_ATTR_MCAST_PORT)
        static let ttl = UInt16(IPVS_DAEMON_ATTR_MCAST_TTL)
    }

    enum Stats {
        static let conns = UInt16(IPVS_STATS_ATTR_CONNS)
        static let inPackets = UInt16(IPVS_STATS_ATTR_INPKTS)
        static let outPackets = UInt16(IPVS_STATS_ATTR_OUTPKTS)
        static let inBytes = UInt16(IPVS_STATS_ATTR_INBYTES)
        static let outBytes = UInt16(IPVS_STATS_ATTR_OUTBYTES)
        static let cps = UInt16(IPVS_STATS_ATTR_CPS)
        static let inPPS = UInt16(IPVS_STATS_ATTR_INPPS)
        static let outPPS = UInt16(IPVS_STATS_ATTR_OUTPPS)
        static let inBPS = UInt16(IPVS_STATS_ATTR_INBPS)
        static let outBPS = UInt16(IPVS_STATS_ATTR_OUTBPS)
    }

    enum Info {
        static let version = UInt16(IPVS_INFO_ATTR_VERSION)
        static let connectionTableSize = UInt16(IPVS_INFO_ATTR_CONN_TAB_SIZE)
    }

    static let familyName = String(cString: cnl_ipvs_genl_name)
    static let version = UInt8(cnl_ipvs_genl_version)

    /// `nlmsghdr` flags.
    static let request = UInt16(NLM_F_REQUEST)
    static let ack = UInt16(NLM_F_ACK)
    static let dump = UInt16(NLM_F_DUMP)
    static let multi = UInt16(NLM_F_MULTI)
}

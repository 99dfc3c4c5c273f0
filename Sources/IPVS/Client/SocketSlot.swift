/// A netlink socket opened on demand and dropped after a failure that leaves it in an unknown state, so the
/// next use opens a new one. The one reopening rule for the IPVS client and the host network; each keeps
/// its slot behind its own lock.
struct SocketSlot<Socket> {
    var socket: Socket?

    /// Runs `body` with the open socket, opening one with `open` first if an earlier failure dropped it.
    mutating func use<R>(
        open: () throws(IPVSError) -> Socket,
        _ body: (Socket) throws(IPVSError) -> R
    ) throws(IPVSError) -> R {
        let current: Socket
        if let socket {
            current = socket
        } else {
            current = try open()
            socket = current
        }
        do throws(IPVSError) {
            return try body(current)
        } catch {
            if error.leavesSocketUnknown { socket = nil }
            throw error
        }
    }
}

extension IPVSError {
    /// Whether the socket the error came from may hold a late reply or be broken, so it must not be reused.
    var leavesSocketUnknown: Bool {
        switch code {
        case .timedOut, .connectionFailed, .malformedReply, .acknowledgementLost: true
        // libnl's catch-all (NLE_FAILURE, no errno): a socket error as often as not. The kernel's own refusals
        // always carry an errno.
        case .kernel: errno == nil
        default: false
        }
    }
}

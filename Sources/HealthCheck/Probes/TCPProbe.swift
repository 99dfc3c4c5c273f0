import NIOCore
import NIOPosix
import ServiceTables

extension NIOProber {
    /// Connects and closes: healthy when the handshake completes within the timeout.
    func probeTCP(_ target: HealthTarget) async -> ProbeResult {
        await attempt(target) { loop, address, promise in
            ClientBootstrap(group: loop)
                .connectTimeout(target.timeout.timeAmount)
                .connect(to: address)
                .whenComplete { result in
                    switch result {
                    case .success(let channel):
                        // Reset rather than close, like HAProxy: no TIME_WAIT per check on either side.
                        if let options = channel as? any SocketOptionProvider {
                            options.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                                .whenComplete { _ in channel.close(promise: nil) }
                        } else {
                            channel.close(promise: nil)
                        }
                        promise.succeed("ok")
                    case .failure(let error):
                        promise.succeed(describeProbeError(error))
                    }
                }
        }
    }
}

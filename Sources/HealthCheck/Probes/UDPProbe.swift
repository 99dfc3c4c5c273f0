import NIOCore
import NIOPosix
import ServiceTables
import Synchronization

extension NIOProber {
    /// Sends the payload from a connected socket: healthy on any reply, or one containing `expect`.
    /// An ICMP port unreachable surfaces on a connected socket as `connection refused`.
    func probeUDP(_ target: HealthTarget, payload: [UInt8], expect: [UInt8]?) async -> ProbeResult {
        // Replies that lacked the expected bytes, so a timeout can say why.
        let unmatched = AtomicCounter()
        let timeoutReason: @Sendable () -> String = {
            unmatched.count.load(ordering: .relaxed) > 0 ? "reply does not contain the expected bytes" : "no reply"
        }
        return await attempt(target, timeoutReason: timeoutReason) { loop, address, promise in
            DatagramBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            UDPCheckHandler(expect: expect, unmatched: unmatched, promise: promise)
                        )
                    }
                }
                .connect(to: address)
                .whenComplete { result in
                    switch result {
                    case .success(let channel):
                        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                        channel.writeAndFlush(ByteBuffer(bytes: payload)).whenFailure { error in
                            promise.succeed(describeProbeError(error))
                        }
                    case .failure(let error):
                        promise.succeed(describeProbeError(error))
                    }
                }
        }
    }
}

/// A counter tasks and event loops share.
final class AtomicCounter: Sendable {
    let count = Atomic<Int>(0)
}

/// Waits for a datagram (containing `expect`, when set); a socket error ends the probe.
final class UDPCheckHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let expect: [UInt8]?
    private let unmatched: AtomicCounter
    private let promise: EventLoopPromise<String>

    init(expect: [UInt8]?, unmatched: AtomicCounter, promise: EventLoopPromise<String>) {
        self.expect = expect
        self.unmatched = unmatched
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data).data.readableBytesView
        guard let expect, !expect.isEmpty else {
            promise.succeed("ok")
            return
        }
        if reply.count >= expect.count,
            (0...(reply.count - expect.count)).contains(where: {
                reply.dropFirst($0).starts(with: expect)
            })
        {
            promise.succeed("ok")
        } else {
            unmatched.count.add(1, ordering: .relaxed)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.succeed(describeProbeError(error))
    }
}

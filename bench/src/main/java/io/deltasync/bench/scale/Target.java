package io.deltasync.bench.scale;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;

/** The server under test, and how the load client connects to it: a new channel is a new TCP connection. */
record Target(ServerProcess server, boolean subscriberCallbackPool) {
  Target(ServerProcess server) {
    this(server, false);
  }

  ManagedChannel channel() {
    return Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create())
        .maxInboundMessageSize(64 * 1024 * 1024).build();
  }

  /**
   * A channel whose transport runs on {@code loops}: the storm's streams on event loops of their own, so that the
   * load client's handshakes and hellos for thousands of new connections do not queue the live subscribers' reads
   * behind them on the same threads (devices that reconnect are other machines than those already connected).
   */
  ManagedChannel channel(EventLoopGroup loops) {
    return NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().eventLoopGroup(loops)
        .channelType(NioSocketChannel.class).maxInboundMessageSize(64 * 1024 * 1024).build();
  }

  /**
   * A channel for a fan-out subscriber: its messages are read on the transport's own thread (a subscriber only
   * parses the ids and checks them off, never blocks), instead of being handed to gRPC's default executor, a thread
   * hop per message that cost the load client as much CPU as the server's whole delivery (docs/performance.md,
   * "Fifth pass: fan-out"). {@code subscriberCallbackPool} keeps the hop, for comparison.
   */
  ManagedChannel subscriberChannel() {
    var builder = Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create())
        .maxInboundMessageSize(64 * 1024 * 1024);
    return (subscriberCallbackPool ? builder : builder.directExecutor()).build();
  }
}

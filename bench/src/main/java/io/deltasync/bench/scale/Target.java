package io.deltasync.bench.scale;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;

/** The server under test, and how the load client connects to it: a new channel is a new TCP connection. */
record Target(ServerProcess server) {
  ManagedChannel channel() {
    return Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create())
        .maxInboundMessageSize(64 * 1024 * 1024).build();
  }
}

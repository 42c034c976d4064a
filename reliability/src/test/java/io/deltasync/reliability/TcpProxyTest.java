package io.deltasync.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import org.junit.jupiter.api.Test;

/** The proxy the network-cut scenario relies on: forwards, holds bytes while stalled, resets on drop. */
class TcpProxyTest {
  /** An echo server on a free loopback port. */
  private static ServerSocket echo() throws IOException {
    ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(() -> {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
          Thread.ofVirtual().start(() -> {
            try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
              in.transferTo(out);
            } catch (IOException ignored) {
              // the client went away
            }
          });
        } catch (IOException e) {
          return;
        }
      }
    });
    return server;
  }

  private static int roundTrip(Socket socket, int value) throws IOException {
    socket.getOutputStream().write(value);
    socket.getOutputStream().flush();
    return socket.getInputStream().read();
  }

  @Test
  void forwardsHoldsWhileStalledAndResetsOnDrop() throws Exception {
    try (ServerSocket target = echo(); TcpProxy proxy = new TcpProxy(target.getLocalPort());
        Socket socket = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
      assertThat(roundTrip(socket, 7)).isEqualTo(7);

      proxy.mode(TcpProxy.Mode.STALL);
      socket.setSoTimeout(300);
      socket.getOutputStream().write(8);
      assertThatThrownBy(() -> socket.getInputStream().read()).as("nothing comes back while stalled")
          .isInstanceOf(SocketTimeoutException.class);
      proxy.mode(TcpProxy.Mode.FORWARD);
      socket.setSoTimeout(0);
      assertThat(socket.getInputStream().read()).as("the held byte arrives after the stall").isEqualTo(8);

      proxy.mode(TcpProxy.Mode.DROP);
      int read;
      try {
        read = socket.getInputStream().read();
      } catch (IOException reset) {
        read = -1;
      }
      assertThat(read).as("the connection was cut").isEqualTo(-1);
      try (Socket during = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
        int answer;
        try {
          answer = roundTrip(during, 9);
        } catch (IOException reset) {
          answer = -1;
        }
        assertThat(answer).as("a connection made during the drop is cut at once").isEqualTo(-1);
      }
      proxy.mode(TcpProxy.Mode.FORWARD);
      try (Socket after = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
        assertThat(roundTrip(after, 10)).isEqualTo(10);
      }
    }
  }
}

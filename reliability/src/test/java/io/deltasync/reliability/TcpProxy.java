package io.deltasync.reliability;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy on loopback between the server and PostgreSQL that can cut the network the two ways networks fail:
 * {@link Mode#STALL} (packets stop: nothing is forwarded in either direction and new connections are accepted but
 * never answered, so a reader waits until its own timeout, as behind a dead router or a full partition) and
 * {@link Mode#DROP} (connections reset: every open connection is closed with RST, and new ones are accepted and reset
 * at once, as when a firewall or a failover cuts them). {@link Mode#FORWARD} passes bytes both ways.
 *
 * <p>Why a class of our own: the libraries that do this (toxiproxy, a JVM port of it) run as a separate server or
 * pull a framework in; what the suite needs is two byte pumps per connection and a switch, about a hundred lines on
 * java.net with one virtual thread per direction.
 */
final class TcpProxy implements AutoCloseable {
  /** What the proxy does with traffic. */
  enum Mode { FORWARD, STALL, DROP }

  private final ServerSocket listener;
  private final int targetPort;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final Object modeChanged = new Object();
  private volatile Mode mode = Mode.FORWARD;
  private volatile boolean closed;

  /** Listens on a free loopback port and forwards to {@code targetPort} on loopback. */
  TcpProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.listener = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().name("proxy-accept").start(this::accept);
  }

  int port() {
    return listener.getLocalPort();
  }

  /** Switches the mode; DROP resets every open connection now. */
  void mode(Mode next) {
    mode = next;
    if (next == Mode.DROP) {
      open.forEach(TcpProxy::reset);
    }
    synchronized (modeChanged) {
      modeChanged.notifyAll();
    }
  }

  private void accept() {
    while (!closed) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        return;
      }
      if (mode == Mode.DROP) {
        reset(client);
        continue;
      }
      open.add(client);
      Thread.ofVirtual().name("proxy-connection").start(() -> connect(client));
    }
  }

  private void connect(Socket client) {
    // A connection made during a stall waits, unanswered, until the stall ends (or the client gives up).
    awaitNot(Mode.STALL);
    if (mode == Mode.DROP || closed) {
      reset(client);
      return;
    }
    Socket server = new Socket();
    try {
      server.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort));
    } catch (IOException e) {
      reset(client);
      return;
    }
    open.add(server);
    Thread.ofVirtual().name("proxy-up").start(() -> pump(client, server));
    Thread.ofVirtual().name("proxy-down").start(() -> pump(server, client));
  }

  /** Copies bytes from one socket to the other; waits while stalled; on any end, resets both. */
  private void pump(Socket from, Socket to) {
    byte[] buffer = new byte[16 * 1024];
    try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
      while (true) {
        int n = in.read(buffer);
        if (n < 0) {
          break;
        }
        // Bytes read while a stall begins are held (not lost) until it ends: a stall delays, a drop cuts.
        awaitNot(Mode.STALL);
        if (mode == Mode.DROP) {
          break;
        }
        out.write(buffer, 0, n);
        out.flush();
      }
    } catch (IOException endOfConnection) {
      // one side closed or was reset
    } finally {
      reset(from);
      reset(to);
      open.remove(from);
      open.remove(to);
    }
  }

  private void awaitNot(Mode unwanted) {
    synchronized (modeChanged) {
      while (mode == unwanted && !closed) {
        try {
          modeChanged.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  private static void reset(Socket socket) {
    try {
      socket.setSoLinger(true, 0);
    } catch (SocketException alreadyClosed) {
      // nothing to reset
    }
    try {
      socket.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    synchronized (modeChanged) {
      modeChanged.notifyAll();
    }
    listener.close();
    open.forEach(TcpProxy::reset);
  }
}

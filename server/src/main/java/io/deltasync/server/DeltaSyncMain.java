package io.deltasync.server;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Command line: {@code deltasync serve}, and {@code deltasync token} (a development token signed with the key in the
 * data directory). Configuration comes from environment variables (see README).
 */
public final class DeltaSyncMain {
  private static final Logger log = LoggerFactory.getLogger(DeltaSyncMain.class);

  private DeltaSyncMain() {}

  public static void main(String[] args) throws InterruptedException {
    String command = args.length == 0 ? "serve" : args[0];
    if (command.equals("token")) {
      System.exit(DevelopmentTokens.print(java.util.Arrays.copyOfRange(args, 1, args.length)));
    }
    if (!command.equals("serve")) {
      System.err.println("usage: deltasync serve | deltasync token --sub NAME [--scope S]... [--role R]... "
          + "[--valid-minutes N]   (configuration: environment variables, see README.md)");
      System.exit(2);
    }
    ServerConfig config;
    try {
      config = ServerConfig.fromEnvironment();
    } catch (ConfigException e) {
      System.err.println("deltasync: invalid configuration: " + e.getMessage());
      System.exit(2);
      return;
    }
    DeltaSyncServer server;
    try {
      server = DeltaSyncServer.start(config);
    } catch (IOException | RuntimeException e) {
      log.error("deltasync could not start: {}", e.getMessage(), e);
      System.exit(1);
      return;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    // SIGTERM and SIGINT run shutdown hooks: drain calls, close the pool, stop PostgreSQL cleanly.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.info("Shutting down");
      server.close();
      stopped.countDown();
    }, "deltasync-shutdown"));
    log.info("deltasync listening on {}:{}", config.host(), server.port());
    server.awaitTermination();
    stopped.await();
  }
}

package io.deltasync.server.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.deltasync.server.stream.SyncSession;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Subscription;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * With DELTASYNC_LOG_FORMAT=json the shipped logback.xml writes one JSON object per line, with the call's request id,
 * method, client id and scope in its MDC.
 */
class JsonLogsIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  @Test
  void oneJsonObjectPerLineWithTheCallsContext() throws Exception {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream original = System.err;
    // logback.xml reads the variable from system properties before the environment.
    System.setProperty("DELTASYNC_LOG_FORMAT", "json");
    try {
      configure(context);
      ((Logger) LoggerFactory.getLogger(SyncSession.class)).setLevel(Level.DEBUG);
      System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
      try (StreamClient client = new StreamClient(server.channel())) {
        client.hello("json-client", "", Subscription.newBuilder().addScopes("json-scope").build());
        client.awaitLive();
      }
    } finally {
      System.setErr(original);
      System.clearProperty("DELTASYNC_LOG_FORMAT");
      configure(context);
    }

    List<JsonObject> events = new ArrayList<>();
    for (String line : captured.toString(StandardCharsets.UTF_8).split("\n")) {
      if (!line.isBlank()) {
        events.add(JsonParser.parseString(line).getAsJsonObject());  // every line is one JSON object
      }
    }
    JsonObject hello = events.stream()
        .filter(e -> e.has("formattedMessage") && e.get("formattedMessage").getAsString().contains("said hello"))
        .findFirst().orElseThrow(() -> new AssertionError("no hello logged in " + events));
    assertThat(hello.get("level").getAsString()).isEqualTo("DEBUG");
    JsonObject mdc = hello.getAsJsonObject("mdc");
    assertThat(mdc.get("client_id").getAsString()).isEqualTo("json-client");
    assertThat(mdc.get("scope").getAsString()).isEqualTo("json-scope");
    assertThat(mdc.get("method").getAsString()).isEqualTo("deltasync.v1.SyncService/Sync");
    assertThat(mdc.get("request_id").getAsString()).isNotEmpty();
    assertThat(hello.has("arguments")).isFalse();
  }

  private static void configure(LoggerContext context) throws Exception {
    context.reset();
    JoranConfigurator configurator = new JoranConfigurator();
    configurator.setContext(context);
    configurator.doConfigure(JsonLogsIT.class.getResource("/logback.xml"));
  }
}

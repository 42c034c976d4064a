package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/** The audit log says who was refused what, never with a token or data; one principal's streams are bounded. */
class AuditAndLimitsIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET",
          Credentials.SECRET, "DELTASYNC_MAX_STREAMS_PER_PRINCIPAL", "2"))));

  private static String token(String sub) {
    return Credentials.hs256(claims(sub, List.of("writer"), List.of(sub + "-scope")).build());
  }

  @Test
  void aDenialIsAuditedWithThePrincipalAndScopeButNoTokenOrData() {
    Logger audit = (Logger) LoggerFactory.getLogger("deltasync.audit");
    ListAppender<ILoggingEvent> events = new ListAppender<>();
    events.start();
    audit.addAppender(events);
    String token = token("alice");
    try {
      SyncServiceGrpc.newBlockingStub(Credentials.bearer(server.channel(), token))
          .withDeadlineAfter(60, TimeUnit.SECONDS)
          .push(PushRequest.newBuilder().setClientId("phone").addDeltas(Deltas.create("secret-entity",
              Deltas.doc("secret-field", "secret-value")).toBuilder().setScope("someone-elses")).build());
    } finally {
      audit.detachAppender(events);
    }

    assertThat(events.list).hasSize(1);
    ILoggingEvent denied = events.list.get(0);
    Map<String, String> pairs = denied.getKeyValuePairs().stream()
        .collect(Collectors.toMap(kv -> kv.key, kv -> String.valueOf(kv.value)));
    assertThat(pairs).containsEntry("event", "permission_denied").containsEntry("principal", "token:alice")
        .containsEntry("needed", "write").containsEntry("scope", "someone-elses");
    assertThat(pairs.get("client_id")).endsWith("~phone");
    String everything = denied.getFormattedMessage() + pairs;
    assertThat(everything).doesNotContain(token).doesNotContain("secret-value").doesNotContain("secret-field");
  }

  @Test
  void aPrincipalsStreamsAreBounded() throws Exception {
    Channel alice = Credentials.bearer(server.channel(), token("alice"));
    try (var first = new io.deltasync.server.testing.StreamClient(alice);
        var second = new io.deltasync.server.testing.StreamClient(alice)) {
      first.hello("a1", "");
      second.hello("a2", "");
      first.await(m -> m.hasWelcome(), "welcome");
      second.await(m -> m.hasWelcome(), "welcome");

      try (var third = new io.deltasync.server.testing.StreamClient(alice)) {
        Status refused = third.awaitEnd();
        assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.getDescription()).contains("DELTASYNC_MAX_STREAMS_PER_PRINCIPAL");
      }
      // Another principal is not affected.
      try (var bobs = new io.deltasync.server.testing.StreamClient(
          Credentials.bearer(server.channel(), token("bob")))) {
        bobs.hello("b1", "");
        bobs.await(m -> m.hasWelcome(), "bob's welcome");
      }
    }
  }
}

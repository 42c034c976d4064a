package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static io.deltasync.server.testing.Credentials.with;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.ErrorInfo;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.v1.AdminServiceGrpc;
import io.deltasync.v1.CleanupTombstonesRequest;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.GetMetricsRequest;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.ListConflictsRequest;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionChoice;
import io.deltasync.v1.ResolveConflictRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Every RPC × every kind of credential, on the real server over Netty: the documented status and reason for each
 * (docs/security.md, "What each failure looks like").
 */
class AuthMatrixIT {
  private static final Path DIR;
  private static final Path KEYS;
  private static final Path RULES;

  static {
    try {
      DIR = Files.createTempDirectory("auth-matrix");
      KEYS = Credentials.publicKeyFile(DIR);
      RULES = DIR.resolve("rules.json");
      Files.writeString(RULES, """
          {"roles": {"reader": ["sync:read", "conflicts:read"],
                     "writer": ["sync:read", "sync:write", "conflicts:read", "conflicts:resolve"],
                     "ops": ["ops:status", "ops:metrics", "ops:cleanup"]},
           "rules": [{"read": ["{claims.scopes}"], "write": ["{claims.scopes}"]}]}
          """);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> {
    Map<String, String> env = new HashMap<>(Credentials.tokenServer(KEYS));
    env.put("DELTASYNC_AUTH_RULES_FILE", RULES.toString());
    return config.withAuth(AuthSettings.from(env))
        .withConflicts(ConflictPolicy.CONFLICT_POLICY_MANUAL, config.conflicts());
  });

  private static String conflictId;

  /** The kinds of credential. */
  enum Credential {
    NONE, BAD_SIGNATURE, ALG_NONE, HS256_WITH_PUBLIC_KEY, EXPIRED, NOT_YET_VALID, WRONG_ISSUER, WRONG_AUDIENCE,
    MISSING_PERMISSION, WRONG_SCOPE, RIGHT
  }

  /** The RPCs. */
  enum Rpc { SYNC, PUSH, PULL, LIST_CONFLICTS, RESOLVE_CONFLICT, GET_STATUS, GET_METRICS, CLEANUP_TOMBSTONES }

  private static final List<String> ALL_ROLES = List.of("writer", "ops");

  static String token(Credential credential) {
    Instant now = Instant.now();
    return switch (credential) {
      case NONE -> null;
      case BAD_SIGNATURE -> Credentials.hs256(claims("alice", ALL_ROLES, List.of("tenant-a")).build(),
          "another-secret-of-at-least-32-bytes-xxxxx".getBytes(StandardCharsets.UTF_8));
      case ALG_NONE -> Credentials.unsigned(claims("alice", ALL_ROLES, List.of("tenant-a")).build());
      // The classic confusion attack: HMAC keyed with the server's public key, as published.
      case HS256_WITH_PUBLIC_KEY -> Credentials.hs256(claims("alice", ALL_ROLES, List.of("tenant-a")).build(),
          Credentials.pem(Credentials.RSA.getPublic()).getBytes(StandardCharsets.US_ASCII));
      case EXPIRED -> Credentials.hs256(with(claims("alice", ALL_ROLES, List.of("tenant-a")),
          c -> c.expirationTime(Date.from(now.minus(Duration.ofHours(2))))));
      case NOT_YET_VALID -> Credentials.hs256(with(claims("alice", ALL_ROLES, List.of("tenant-a")),
          c -> c.notBeforeTime(Date.from(now.plus(Duration.ofHours(1))))));
      case WRONG_ISSUER -> Credentials.rs256(with(claims("alice", ALL_ROLES, List.of("tenant-a")),
          c -> c.issuer("https://someone-else.test")), Credentials.RSA, null);
      case WRONG_AUDIENCE -> Credentials.es256(with(claims("alice", ALL_ROLES, List.of("tenant-a")),
          c -> c.audience("another-service")));
      case MISSING_PERMISSION -> Credentials.hs256(claims("alice", List.of("nothing"), List.of("tenant-a")).build());
      case WRONG_SCOPE -> Credentials.rs256(claims("bob", ALL_ROLES, List.of("tenant-b")).build(), Credentials.RSA,
          null);
      case RIGHT -> Credentials.es256(claims("alice", ALL_ROLES, List.of("tenant-a")).build());
    };
  }

  /** A status code and ErrorInfo reason ("" when none). */
  record Outcome(Status.Code code, String reason) {
    static final Outcome OK = new Outcome(Status.Code.OK, "");

    static Outcome of(com.google.rpc.Status status) {
      String reason = "";
      for (var detail : status.getDetailsList()) {
        if (detail.is(ErrorInfo.class)) {
          try {
            reason = detail.unpack(ErrorInfo.class).getReason();
          } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
          }
        }
      }
      return new Outcome(Status.fromCodeValue(status.getCode()).getCode(), reason);
    }

    static Outcome of(Throwable t) {
      com.google.rpc.Status status = StatusProto.fromThrowable(t);
      return status == null ? new Outcome(Status.fromThrowable(t).getCode(), "") : of(status);
    }
  }

  @BeforeAll
  static void seed() throws Exception {
    Channel right = Credentials.bearer(server.channel(), token(Credential.RIGHT));
    var sync = SyncServiceGrpc.newBlockingStub(right).withDeadlineAfter(60, TimeUnit.SECONDS);
    sync.push(PushRequest.newBuilder().setClientId("seed").addDeltas(Deltas.create("n1", Deltas.doc("v", "1"))
        .toBuilder().setScope("tenant-a")).build());
    // Two updates from the same base: the second is queued for manual resolution.
    sync.push(PushRequest.newBuilder().setClientId("seed").addDeltas(Deltas.update("n1", 1, Deltas.doc("v", "2"))
        .toBuilder().setScope("tenant-a")).build());
    DeltaResult conflicted = sync.push(PushRequest.newBuilder().setClientId("seed")
        .addDeltas(Deltas.update("n1", 1, Deltas.doc("v", "3")).toBuilder().setScope("tenant-a")).build())
        .getResults(0);
    assertThat(conflicted.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    conflictId = sync.listConflicts(ListConflictsRequest.getDefaultInstance()).getConflicts(0).getConflictId();
    // A client that has opened a stream, for GetStatus.
    assertThat(sync(right, "matrix-client").code()).isEqualTo(Status.Code.OK);
  }

  static Stream<Arguments> matrix() {
    List<Arguments> cases = new ArrayList<>();
    for (Rpc rpc : Rpc.values()) {
      for (Credential credential : Credential.values()) {
        cases.add(Arguments.of(rpc, credential));
      }
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} with {1}")
  @MethodSource("matrix")
  void eachRpcWithEachCredential(Rpc rpc, Credential credential) throws Exception {
    String token = token(credential);
    Channel channel = token == null ? server.channel() : Credentials.bearer(server.channel(), token);

    Outcome outcome = call(rpc, channel);

    assertThat(outcome).as("%s with %s", rpc, credential).satisfies(expected(rpc, credential));
  }

  private static java.util.function.Consumer<Outcome> expected(Rpc rpc, Credential credential) {
    boolean admin = rpc == Rpc.GET_METRICS || rpc == Rpc.CLEANUP_TOMBSTONES;
    return outcome -> {
      switch (credential) {
        case NONE -> assertThat(outcome).isEqualTo(new Outcome(Status.Code.UNAUTHENTICATED, "TOKEN_MISSING"));
        case EXPIRED -> assertThat(outcome).isEqualTo(new Outcome(Status.Code.UNAUTHENTICATED, "TOKEN_EXPIRED"));
        case BAD_SIGNATURE, ALG_NONE, HS256_WITH_PUBLIC_KEY, NOT_YET_VALID, WRONG_ISSUER, WRONG_AUDIENCE ->
            assertThat(outcome).isEqualTo(new Outcome(Status.Code.UNAUTHENTICATED, "TOKEN_INVALID"));
        case MISSING_PERMISSION ->
            assertThat(outcome).isEqualTo(new Outcome(Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED"));
        case WRONG_SCOPE -> {
          switch (rpc) {
            case RESOLVE_CONFLICT -> assertThat(outcome)
                .isEqualTo(new Outcome(Status.Code.NOT_FOUND, "CONFLICT_NOT_FOUND"));
            case GET_STATUS -> assertThat(outcome).isEqualTo(new Outcome(Status.Code.NOT_FOUND, "UNKNOWN_CLIENT"));
            case GET_METRICS, CLEANUP_TOMBSTONES -> assertPassedAuth(outcome);
            default -> assertThat(outcome)
                .isEqualTo(new Outcome(Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED"));
          }
        }
        case RIGHT -> {
          if (admin) {
            assertPassedAuth(outcome);
          } else {
            assertThat(outcome).isEqualTo(Outcome.OK);
          }
        }
      }
    };
  }

  // The AdminService bodies belong to the operations work; here only the guard is tested.
  private static void assertPassedAuth(Outcome outcome) {
    assertThat(outcome.code()).isNotIn(Status.Code.UNAUTHENTICATED, Status.Code.PERMISSION_DENIED);
  }

  private static Outcome call(Rpc rpc, Channel channel) throws Exception {
    var sync = SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    var admin = AdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    try {
      switch (rpc) {
        case SYNC -> {
          return sync(channel, "matrix-client");
        }
        case PUSH -> {
          Delta delta = Deltas.create("pushed-" + java.util.UUID.randomUUID(), Deltas.doc("v", "1")).toBuilder()
              .setScope("tenant-a").build();
          DeltaResult result = sync.push(PushRequest.newBuilder().setClientId("matrix-client").addDeltas(delta)
              .build()).getResults(0);
          if (result.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED) {
            return Outcome.OK;
          }
          return Outcome.of(result.getError());
        }
        case PULL -> sync.pull(PullRequest.newBuilder().addScopes("tenant-a").build());
        case LIST_CONFLICTS -> sync.listConflicts(ListConflictsRequest.newBuilder().setScope("tenant-a").build());
        case RESOLVE_CONFLICT -> sync.resolveConflict(ResolveConflictRequest.newBuilder().setConflictId(conflictId)
            .setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_SERVER).build());
        case GET_STATUS -> sync.getStatus(GetStatusRequest.newBuilder().setClientId("matrix-client").build());
        case GET_METRICS -> admin.getMetrics(GetMetricsRequest.getDefaultInstance());
        case CLEANUP_TOMBSTONES -> admin.cleanupTombstones(CleanupTombstonesRequest.getDefaultInstance());
      }
      return Outcome.OK;
    } catch (StatusRuntimeException e) {
      return Outcome.of(e);
    }
  }

  /** Opens a stream, says hello for tenant-a; the welcome is OK, a SyncError or the end of the stream is not. */
  static Outcome sync(Channel channel, String clientId) throws Exception {
    CompletableFuture<Outcome> first = new CompletableFuture<>();
    StreamObserver<SyncRequest> requests = SyncServiceGrpc.newStub(channel).sync(new StreamObserver<>() {
      @Override
      public void onNext(SyncResponse value) {
        if (value.hasWelcome()) {
          first.complete(Outcome.OK);
        } else if (value.hasError()) {
          first.complete(Outcome.of(value.getError().getStatus()));
        }
      }

      @Override
      public void onError(Throwable t) {
        first.complete(Outcome.of(t));
      }

      @Override
      public void onCompleted() {
        first.complete(new Outcome(Status.Code.OK, "completed before the welcome"));
      }
    });
    requests.onNext(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId(clientId)
        .addSubscriptions(Subscription.newBuilder().addScopes("tenant-a"))).build());
    try {
      return first.get(60, TimeUnit.SECONDS);
    } finally {
      requests.onError(Status.CANCELLED.withDescription("test done").asRuntimeException());
    }
  }

}

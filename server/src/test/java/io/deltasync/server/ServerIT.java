package io.deltasync.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1alpha.ServerReflectionGrpc;
import io.grpc.reflection.v1alpha.ServerReflectionRequest;
import io.grpc.reflection.v1alpha.ServerReflectionResponse;
import io.grpc.reflection.v1alpha.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The server's operational surface: health, reflection, and honest UNIMPLEMENTED answers. */
class ServerIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  @Test
  void healthIsServingForTheServerAndEachService() {
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(server.channel());
    for (String service : List.of("", "deltasync.v1.SyncService", "deltasync.v1.AdminService")) {
      assertThat(health.check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus())
          .as("service '%s'", service).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    }
  }

  @Test
  void reflectionV1alphaListsTheServices() throws Exception {
    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(server.channel())
        .serverReflectionInfo(new StreamObserver<>() {
          @Override
          public void onNext(ServerReflectionResponse value) {
            answer.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            answer.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    List<String> services = answer.get(30, TimeUnit.SECONDS).getListServicesResponse().getServiceList().stream()
        .map(ServiceResponse::getName).toList();
    requests.onCompleted();
    assertThat(services).contains("deltasync.v1.SyncService", "deltasync.v1.AdminService",
        "grpc.health.v1.Health");
  }

  /** What reflection v1 answers for file_containing_symbol: the names of the files it sends. */
  private static List<String> filesContaining(String symbol) throws Exception {
    return reflectedFiles(io.grpc.reflection.v1.ServerReflectionRequest.newBuilder().setFileContainingSymbol(symbol)
        .build());
  }

  private static List<String> reflectedFiles(io.grpc.reflection.v1.ServerReflectionRequest request)
      throws Exception {
    CompletableFuture<io.grpc.reflection.v1.ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<io.grpc.reflection.v1.ServerReflectionRequest> requests =
        io.grpc.reflection.v1.ServerReflectionGrpc.newStub(server.channel()).serverReflectionInfo(
            new StreamObserver<>() {
              @Override
              public void onNext(io.grpc.reflection.v1.ServerReflectionResponse value) {
                answer.complete(value);
              }

              @Override
              public void onError(Throwable t) {
                answer.completeExceptionally(t);
              }

              @Override
              public void onCompleted() {}
            });
    requests.onNext(request);
    io.grpc.reflection.v1.ServerReflectionResponse response = answer.get(30, TimeUnit.SECONDS);
    requests.onCompleted();
    assertThat(response.hasErrorResponse()).as("%s: %s", request, response.getErrorResponse()).isFalse();
    List<String> names = new java.util.ArrayList<>();
    for (com.google.protobuf.ByteString file : response.getFileDescriptorResponse().getFileDescriptorProtoList()) {
      names.add(com.google.protobuf.DescriptorProtos.FileDescriptorProto.parseFrom(file).getName());
    }
    return names;
  }

  @Test
  void reflectionServesTheErrorDetailsAndTheErrorCatalogueClientsDecode() throws Exception {
    assertThat(filesContaining("google.rpc.ErrorInfo")).contains("google/rpc/error_details.proto");
    assertThat(filesContaining("google.rpc.BadRequest")).contains("google/rpc/error_details.proto");
    // grpc-java indexes messages, not enums, by symbol; the catalogue's file is served by name.
    assertThat(reflectedFiles(io.grpc.reflection.v1.ServerReflectionRequest.newBuilder()
        .setFileByFilename("deltasync/v1/errors.proto").build())).contains("deltasync/v1/errors.proto");
    // The services are still described as before.
    assertThat(filesContaining("deltasync.v1.AdminService")).contains("deltasync/v1/admin_service.proto");
    assertThat(filesContaining("deltasync.v1.SyncService.Push")).contains("deltasync/v1/sync_service.proto");
  }
}

package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The JSON error answers of the HTTP port: the documented HTTP status per gRPC code, the Status with details. */
class JsonErrorsTest {
  private static final Path ROOT = Path.of(System.getProperty("deltasync.projectRoot", "..")).toAbsolutePath()
      .normalize();
  private static final Pattern ROW = Pattern.compile("^\\| `([A-Z_]+)` \\| (\\d{3}) \\|$", Pattern.MULTILINE);

  private static AggregatedHttpResponse answer(Status status, com.google.rpc.Status details) {
    ServiceRequestContext ctx = ServiceRequestContext.of(HttpRequest.of(HttpMethod.POST, "/sync/push"));
    ResponseHeaders headers = ResponseHeaders.of(HttpStatus.OK);
    AggregatedHttpResponse grpc = details == null ? AggregatedHttpResponse.of(headers)
        : AggregatedHttpResponse.of(headers.toBuilder().add("grpc-status-details-bin",
            Base64.getEncoder().encodeToString(details.toByteArray())).build());
    return new JsonErrors().handle(ctx, status, grpc).aggregate().join();
  }

  @Test
  void everyGrpcCodeGetsTheHttpStatusDocsHttpMdSays() throws Exception {
    Map<Status.Code, Integer> documented = new LinkedHashMap<>();
    Matcher row = ROW.matcher(Files.readString(ROOT.resolve("docs/http.md")));
    while (row.find()) {
      documented.put(Status.Code.valueOf(row.group(1)), Integer.valueOf(row.group(2)));
    }
    assertThat(documented.keySet()).as("every code but OK is in the table")
        .containsExactlyInAnyOrder(java.util.Arrays.stream(Status.Code.values())
            .filter(code -> code != Status.Code.OK).toArray(Status.Code[]::new));
    documented.forEach((code, http) ->
        assertThat(answer(Status.fromCode(code), null).status().code()).as(code.name()).isEqualTo(http));
  }

  @Test
  void theBodyIsTheCallsStatusWithItsDetails() {
    com.google.rpc.Status details = com.google.rpc.Status.newBuilder().setCode(3).setMessage("bad client_id")
        .addDetails(Any.pack(ErrorInfo.newBuilder().setReason("INVALID_ARGUMENT").setDomain("deltasync.dev").build()))
        .addDetails(Any.pack(BadRequest.newBuilder().addFieldViolations(BadRequest.FieldViolation.newBuilder()
            .setField("client_id").setDescription("required")).build()))
        .build();
    AggregatedHttpResponse response = answer(Status.INVALID_ARGUMENT.withDescription("bad client_id"), details);
    assertThat(response.status().code()).isEqualTo(400);
    assertThat(response.contentType().toString()).startsWith("application/json");
    assertThat(response.contentUtf8()).isEqualTo("{\"code\":3,\"message\":\"bad client_id\",\"details\":["
        + "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"INVALID_ARGUMENT\","
        + "\"domain\":\"deltasync.dev\"},{\"@type\":\"type.googleapis.com/google.rpc.BadRequest\","
        + "\"fieldViolations\":[{\"field\":\"client_id\",\"description\":\"required\"}]}]}");
  }
  @Test
  void aDetailOfAnUnknownTypeStillGetsAJsonAnswer() {
    com.google.rpc.Status details = com.google.rpc.Status.newBuilder().setCode(3).setMessage("odd")
        .addDetails(Any.pack(io.deltasync.v1.PullRequest.newBuilder().addScopes("s").build())).build();
    AggregatedHttpResponse response = answer(Status.INVALID_ARGUMENT, details);
    assertThat(response.status().code()).isEqualTo(400);
    assertThat(response.contentUtf8()).isEqualTo("{\"code\":3,\"message\":\"odd\"}");
  }

  @Test
  void aBodyOverTheMessageLimitIs413WithLimitExceeded() {
    AggregatedHttpResponse response = answer(Status.RESOURCE_EXHAUSTED.withDescription(
        "com.linecorp.armeria.common.ContentTooLargeException: exceeds the maximum length"), null);
    assertThat(response.status().code()).isEqualTo(413);
    assertThat(response.contentUtf8()).contains("LIMIT_EXCEEDED").doesNotContain("com.linecorp");
  }
}

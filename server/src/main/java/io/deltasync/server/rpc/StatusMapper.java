package io.deltasync.server.rpc;

import com.google.rpc.Code;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.SyncStore;
import io.deltasync.v1.ErrorReason;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place exceptions become gRPC statuses. Expected failures carry their status; a lost database is
 * UNAVAILABLE (retryable); anything else is INTERNAL with a generic message, the details going to the log only.
 */
final class StatusMapper {
  private static final Logger log = LoggerFactory.getLogger(StatusMapper.class);

  private StatusMapper() {}

  static StatusRuntimeException toStatusException(Throwable e, String method) {
    if (e instanceof DeltaSyncException expected) {
      return StatusProto.toStatusRuntimeException(expected.status());
    }
    if (e instanceof StatusRuntimeException already) {
      return already;
    }
    if (SyncStore.isUnavailable(e)) {
      log.warn("{}: database unavailable: {}", method, e.toString());
      return StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE,
          ErrorReason.ERROR_REASON_DATABASE_UNAVAILABLE, "the database is unavailable; retry with backoff"));
    }
    if (SyncStore.isOverloaded(e)) {
      log.info("{}: server busy: {}", method, e.toString());
      return StatusProto.toStatusRuntimeException(Errors.busy());
    }
    log.error("{}: unexpected failure", method, e);
    return StatusProto.toStatusRuntimeException(Errors.status(Code.INTERNAL, ErrorReason.ERROR_REASON_INTERNAL,
        "internal error"));
  }
}

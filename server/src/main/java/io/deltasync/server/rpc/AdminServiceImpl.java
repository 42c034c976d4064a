package io.deltasync.server.rpc;

import com.google.protobuf.Timestamp;
import com.google.rpc.Code;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.telemetry.ServerTelemetry;
import io.deltasync.server.ops.Cleanup;
import io.deltasync.v1.AdminServiceGrpc;
import io.deltasync.v1.CleanupTombstonesRequest;
import io.deltasync.v1.CleanupTombstonesResponse;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.GetMetricsRequest;
import io.deltasync.v1.GetMetricsResponse;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;

/** The AdminService RPCs: metrics and clean-up (the work in {@code metrics} and {@code ops}). */
public final class AdminServiceImpl extends AdminServiceGrpc.AdminServiceImplBase {
  private static final int MAX_DAYS = 36_500;

  private final ServerTelemetry telemetry;
  private final Cleanup cleanup;

  /** The service over the server's metrics and clean-up. */
  public AdminServiceImpl(ServerTelemetry telemetry, Cleanup cleanup) {
    this.telemetry = telemetry;
    this.cleanup = cleanup;
  }

  @Override
  public void getMetrics(GetMetricsRequest request, StreamObserver<GetMetricsResponse> responseObserver) {
    UnaryCalls.answer("GetMetrics", responseObserver, telemetry::view);
  }

  @Override
  public void cleanupTombstones(CleanupTombstonesRequest request,
      StreamObserver<CleanupTombstonesResponse> responseObserver) {
    UnaryCalls.answer("CleanupTombstones", responseObserver, () -> {
      int days = request.getOlderThanDays();
      if (days < 0 || days > MAX_DAYS) {
        throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_ARGUMENT, List.of(
            Errors.violation("older_than_days", days + " (expected: 0 to " + MAX_DAYS
                + "; 0 = the server's CLEANUP_TOMBSTONE_DAYS)"))));
      }
      Cleanup.Retention retention = days == 0 ? cleanup.retention()
          : cleanup.retention().withTombstones(Duration.ofDays(days));
      Cleanup.Report report = cleanup.run(retention, request.getDryRun());
      if (!report.ran()) {
        throw new DeltaSyncException(Code.ABORTED, ErrorReason.ERROR_REASON_CLEANUP_RUNNING,
            "a clean-up is already running (on this node or another); try again later");
      }
      return CleanupTombstonesResponse.newBuilder()
          .setPurgedCount(report.tombstones())
          .setCutoff(timestamp(report.tombstoneCutoff()))
          .setChangeLogPurged(report.changeLog())
          .setAppliedDeltasPurged(report.appliedDeltas())
          .setClientStatusesPurged(report.clientStatuses())
          .setResolvedConflictsPurged(report.resolvedConflicts())
          .setChangeLogCutoff(timestamp(report.changeLogCutoff()))
          .build();
    });
  }

  private static Timestamp timestamp(OffsetDateTime time) {
    return Timestamp.newBuilder().setSeconds(time.toEpochSecond()).setNanos(time.getNano()).build();
  }
}

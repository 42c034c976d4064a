package io.deltasync.server.rpc;

import io.deltasync.v1.AdminServiceGrpc;
import io.deltasync.v1.CleanupTombstonesRequest;
import io.deltasync.v1.CleanupTombstonesResponse;
import io.deltasync.v1.GetMetricsRequest;
import io.deltasync.v1.GetMetricsResponse;
import io.grpc.stub.StreamObserver;

/** The AdminService RPCs. Not implemented yet: they say so instead of answering with made-up values. */
public final class AdminServiceImpl extends AdminServiceGrpc.AdminServiceImplBase {
  @Override
  public void getMetrics(GetMetricsRequest request, StreamObserver<GetMetricsResponse> responseObserver) {
    responseObserver.onError(SyncServiceImpl.notYet("GetMetrics", "the operations issue"));
  }

  @Override
  public void cleanupTombstones(CleanupTombstonesRequest request,
      StreamObserver<CleanupTombstonesResponse> responseObserver) {
    responseObserver.onError(SyncServiceImpl.notYet("CleanupTombstones", "tombstone clean-up (operations issue)"));
  }
}

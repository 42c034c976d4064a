package io.deltasync.bench;

import com.google.protobuf.Struct;
import io.deltasync.server.ot.Edit;
import io.deltasync.server.ot.OperationalTransform;
import io.deltasync.server.ot.Side;
import io.deltasync.server.ot.Transformed;
import io.deltasync.server.ot.UntransformableException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of transforming edits as the server will: a client's offline batch of {@code n} edits against the edits
 * applied since its base version. Transform is O(n·m) for n incoming and m applied edits, so with one side fixed
 * (m = {@value #FIXED}) the time should grow linearly with n; {@link OtBenchmarkReport} prints the ratios.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class OtTransformBenchmark {
  static final int FIXED = 10;

  /** The number of edits on the growing side. */
  @Param({"10", "100", "1000"})
  public int n;

  private List<Edit> batch;
  private List<Edit> fixedHistory;
  private List<Edit> fixedBatch;
  private List<Edit> history;

  @Setup
  public void generate() {
    Struct document = EditWorkload.document();
    batch = EditWorkload.edits(document, n, 1);
    fixedHistory = EditWorkload.edits(document, FIXED, 2);
    fixedBatch = EditWorkload.edits(document, FIXED, 3);
    history = EditWorkload.edits(document, n, 4);
  }

  /** A batch of n client edits against the 10 edits other clients made meanwhile. */
  @Benchmark
  public Transformed batchOfNAgainst10(OtTransformBenchmark state) throws UntransformableException {
    return OperationalTransform.transformBoth(state.batch, state.fixedHistory, Side.LEFT);
  }

  /** A batch of 10 client edits against n edits other clients made meanwhile (a client long offline). */
  @Benchmark
  public Transformed batchOf10AgainstN(OtTransformBenchmark state) throws UntransformableException {
    return OperationalTransform.transformBoth(state.fixedBatch, state.history, Side.LEFT);
  }
}

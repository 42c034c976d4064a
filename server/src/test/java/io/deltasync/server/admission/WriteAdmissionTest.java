package io.deltasync.server.admission;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.store.EntityKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Per-entity admission: a fixed lock order (no cycles), the database-down refusal, nothing held after close. */
class WriteAdmissionTest {
  private static List<EntityKey> keys(String... ids) {
    List<EntityKey> keys = new ArrayList<>();
    for (String id : ids) {
      keys.add(new EntityKey("s", "note", id));
    }
    return keys;
  }

  @Test
  void pushesTakingTheSameEntitiesInOppositeOrdersNeverWaitForEachOther() throws Exception {
    java.util.Queue<Throwable> failures = new java.util.concurrent.ConcurrentLinkedQueue<>();
    // Entities in the client's order (which a batch must keep): x then y, and y then x. Taken in that order, the
    // two threads would deadlock; admission takes them in stripe order, so every round completes.
    WriteAdmission admission = new WriteAdmission(64, Duration.ofMinutes(2), () -> false);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      ids.add("e" + i);
    }
    AtomicInteger admitted = new AtomicInteger();
    CyclicBarrier start = new CyclicBarrier(4);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      List<String> order = new ArrayList<>(ids);
      if (t % 2 == 1) {
        java.util.Collections.reverse(order);
      }
      threads.add(Thread.ofPlatform().start(() -> {
        try {
          start.await();
          for (int round = 0; round < 500; round++) {
            try (WriteAdmission.Permit permit = admission.admit(keys(order.toArray(String[]::new)))) {
              assertThat(permit.refusal()).isNull();
              admitted.incrementAndGet();
            }
          }
        } catch (Exception | AssertionError e) {
          failures.add(e);
        }
      }));
    }
    for (Thread thread : threads) {
      thread.join();
    }
    assertThat(failures).isEmpty();
    assertThat(admitted.get()).isEqualTo(2_000);
    assertThat(admission.refusedBusy()).isZero();
  }

  @Test
  void aPushIsRefusedUnavailableWhileTheDatabaseIsKnownDown() {
    boolean[] down = {true};
    WriteAdmission admission = new WriteAdmission(16, Duration.ofSeconds(1), () -> down[0]);
    try (WriteAdmission.Permit permit = admission.admit(keys("a"))) {
      assertThat(permit.refusal().getCode()).isEqualTo(com.google.rpc.Code.UNAVAILABLE_VALUE);
      assertThat(permit.refusal().getDetails(0).is(com.google.rpc.ErrorInfo.class)).isTrue();
    }
    down[0] = false;
    try (WriteAdmission.Permit permit = admission.admit(keys("a"))) {
      assertThat(permit.refusal()).isNull();
    }
    assertThat(admission.refusedDatabaseDown()).isEqualTo(1);
  }

  @Test
  void anEntityHeldPastTheBoundIsRefusedBusyAndFreedByClose() throws Exception {
    WriteAdmission admission = new WriteAdmission(16, Duration.ofMillis(50), () -> false);
    WriteAdmission.Permit holder = admission.admit(keys("a", "b"));
    java.util.concurrent.atomic.AtomicReference<com.google.rpc.Status> whileHeld = new java.util.concurrent.atomic.AtomicReference<>();
    java.util.concurrent.atomic.AtomicReference<com.google.rpc.Status> afterClose = new java.util.concurrent.atomic.AtomicReference<>();
    // Other threads: the locks are reentrant, so the holder's own thread would be admitted.
    Thread other = Thread.ofPlatform().start(() -> {
      try (WriteAdmission.Permit permit = admission.admit(keys("b"))) {
        whileHeld.set(permit.refusal());
      }
    });
    other.join();
    holder.close();
    Thread after = Thread.ofPlatform().start(() -> {
      try (WriteAdmission.Permit permit = admission.admit(keys("b", "a"))) {
        afterClose.set(permit.refusal() == null ? com.google.rpc.Status.getDefaultInstance() : permit.refusal());
      }
    });
    after.join();
    assertThat(whileHeld.get().getCode()).isEqualTo(com.google.rpc.Code.RESOURCE_EXHAUSTED_VALUE);
    assertThat(afterClose.get()).isEqualTo(com.google.rpc.Status.getDefaultInstance());
    assertThat(admission.refusedBusy()).isEqualTo(1);
  }

  @Test
  void largeBatchesOfDifferentEntitiesNeverWaitForEachOtherAtTheDefaultStripes() throws Exception {
    // issue 11, eighth part: with 1,024 stripes, two batches of 500 different entities always met on some stripe
    // (each takes about 40% of them), so large batches of different clients were admitted one at a time. A wait of
    // one nanosecond turns any shared stripe into a refusal, so this checks "no shared lock", not a duration.
    WriteAdmission admission = new WriteAdmission(io.deltasync.server.AdmissionConfig.defaults().entityStripes(),
        Duration.ofNanos(1), () -> false);
    for (int round = 0; round < 8; round++) {
      List<String> mine = new ArrayList<>();
      List<String> theirs = new ArrayList<>();
      for (int i = 0; i < 500; i++) {
        mine.add("client-" + round + "-a-" + i);
        theirs.add("client-" + round + "-b-" + i);
      }
      try (WriteAdmission.Permit holder = admission.admit(keys(mine.toArray(String[]::new)))) {
        assertThat(holder.refusal()).isNull();
        java.util.concurrent.atomic.AtomicReference<com.google.rpc.Status> other =
            new java.util.concurrent.atomic.AtomicReference<>();
        Thread thread = Thread.ofPlatform().start(() -> {
          try (WriteAdmission.Permit permit = admission.admit(keys(theirs.toArray(String[]::new)))) {
            other.set(permit.refusal() == null ? com.google.rpc.Status.getDefaultInstance() : permit.refusal());
          }
        });
        thread.join();
        assertThat(other.get()).as("round %d", round).isEqualTo(com.google.rpc.Status.getDefaultInstance());
      }
    }
    assertThat(admission.refusedBusy()).isZero();
  }
}

package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.wire.MessageBudget;
import java.util.List;
import org.junit.jupiter.api.Test;

class PageSizerTest {
  private static final int F = MessageBudget.FRAMING_BYTES;

  @Test
  void firstReadIsTheConfiguredRowsThenAsManyAsTheBudgetHolds() {
    PageSizer sizer = new PageSizer(10_000, 1_000, 50);
    assertThat(sizer.nextRows()).isEqualTo(50);
    assertThat(sizer.fitting(List.of(100 - F, 100 - F, 100 - F), Integer::intValue)).isEqualTo(3);
    assertThat(sizer.nextRows()).isEqualTo(100);
  }

  @Test
  void rowsNeverExceedTheBufferNorDropBelowOne() {
    PageSizer sizer = new PageSizer(1_000_000, 1_000, 50);
    sizer.fitting(List.of(10 - F), Integer::intValue);
    assertThat(sizer.nextRows()).isEqualTo(1_000);
    sizer.fitting(List.of(5_000_000), Integer::intValue);
    assertThat(sizer.nextRows()).isEqualTo(1);
  }

  @Test
  void cutsAtTheBudgetButASingleLargerRowGoesAlone() {
    PageSizer sizer = new PageSizer(1_000, 1_000, 50);
    assertThat(sizer.fitting(List.of(400 - F, 400 - F, 400 - F), Integer::intValue)).isEqualTo(2);
    assertThat(sizer.fitting(List.of(400 - F, 600 - F, 1 - F + 1), Integer::intValue)).isEqualTo(2);
    assertThat(sizer.fitting(List.of(5_000, 10), Integer::intValue)).isEqualTo(1);
    assertThat(sizer.fitting(List.<Integer>of(), Integer::intValue)).isZero();
  }

  @Test
  void refusesNonsense() {
    assertThatThrownBy(() -> new PageSizer(0, 1, 1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("budgetBytes: 0");
  }
}

package dev.kiln.checkpoint.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CheckpointNameTest {

  @Test
  void namesAreZeroPaddedAndCarryTheirRevisionAfterADot() {
    assertThat(new CheckpointName(1234, 3, 0)).hasToString("ckpt-000000001234-e0003");
    assertThat(new CheckpointName(1234, 3, 2)).hasToString("ckpt-000000001234-e0003.2");
    assertThat(new CheckpointName(Long.MAX_VALUE, Integer.MAX_VALUE, 0))
        .hasToString("ckpt-9223372036854775807-e2147483647");
  }

  @Test
  void numbersArePaddedAsFormatWouldPadThem() {
    for (long value : new long[] {0, 7, -5, 123_456_789_012_345L, Long.MIN_VALUE, Long.MAX_VALUE}) {
      assertThat(new CheckpointName(value, 3, 0))
          .hasToString(String.format("ckpt-%012d-e%04d", value, 3));
      assertThat(new CheckpointName(4, (int) Math.max(Integer.MIN_VALUE, value), 0))
          .hasToString(
              String.format("ckpt-%012d-e%04d", 4, (int) Math.max(Integer.MIN_VALUE, value)));
    }
  }

  @Test
  void everyNameParsesBackToItsCheckpoint() {
    for (CheckpointName name :
        new CheckpointName[] {
          new CheckpointName(0, 0, 0),
          new CheckpointName(1234, 3, 2),
          new CheckpointName(999_999_999_999L, 9999, 0),
          new CheckpointName(1_000_000_000_000L, 10_000, 999_999_999),
          new CheckpointName(Long.MAX_VALUE, Integer.MAX_VALUE, 1)
        }) {
      assertThat(CheckpointName.parse(name.toString())).contains(name);
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "ckpt-",
        "ckpt-00000000123-e0001", // 11 step digits
        "ckpt-00000000000000000001-e0001", // 20 step digits
        "ckpt-000000001234-e001", // 3 epoch digits
        "ckpt-000000001234-e00000000001", // 11 epoch digits
        "ckpt-000000001234-e0003.", // a dot without a revision
        "ckpt-000000001234-e0003.1234567890", // 10 revision digits
        "ckpt-000000001234-e0003.1x",
        "ckpt-000000001234-e0003x",
        "ckpt-000000001234_e0003",
        "ckpt-00000000123a-e0003",
        "ckpt-+00000001234-e0003",
        "ckpt-000000001234-e-003",
        "ckpt-9999999999999999999-e0003", // 19 digits, more than a long holds
        "ckpt-000000001234-e9999999999", // more than an int holds
        ".tmp-save-ckpt-000000001234-e0003-p1-0badf00d",
        "CKPT-000000001234-e0003",
        "ckpt-٠٠٠٠٠٠٠٠١٢٣٤-e0003" // digits, but not ASCII ones
      })
  void otherNamesAreNotCheckpoints(String name) {
    assertThat(CheckpointName.parse(name)).isEqualTo(Optional.empty());
  }

  @Test
  void namesAreEqualExactlyWhenStepEpochAndRevisionAre() {
    assertThat(new CheckpointName(5, 1, 0))
        .isEqualTo(new CheckpointName(5, 1, 0))
        .hasSameHashCodeAs(new CheckpointName(5, 1, 0))
        .isNotEqualTo(new CheckpointName(5, 1, 1))
        .isNotEqualTo(new CheckpointName(5, 2, 0))
        .isNotEqualTo(new CheckpointName(6, 1, 0));
  }
}

package dev.kiln.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CheckpointFileTest {

  private static final long MIB = 1L << 20;
  private static final String A = "a".repeat(64);
  private static final String B = "b".repeat(64);
  private static final String C = "c".repeat(64);

  @Test
  void threeArgumentConstructorMakesAFileWithoutParts() {
    CheckpointFile file = new CheckpointFile("state.json", 10, A);

    assertThat(file.partSize()).isZero();
    assertThat(file.partSha256()).isEmpty();
    assertThat(file).isEqualTo(new CheckpointFile("state.json", 10, A, 0, List.of()));
  }

  @Test
  void partCountMatchingSizeAndPartSizeIsAccepted() {
    CheckpointFile file = new CheckpointFile("model.bin", 2 * MIB + 1, A, MIB, List.of(A, B, C));

    assertThat(file.partSha256()).containsExactly(A, B, C);
  }

  @Test
  void tooFewPartDigestsAreRejectedNamingBothCounts() {
    assertThatThrownBy(() -> new CheckpointFile("model.bin", 3 * MIB, A, MIB, List.of(A, B)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("partSha256 has 2 digests but a 3145728-byte file in parts of 1048576 has 3");
  }

  @Test
  void tooManyPartDigestsAreRejected() {
    assertThatThrownBy(() -> new CheckpointFile("model.bin", 2 * MIB, A, MIB, List.of(A, B, C)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("has 2");
  }

  @Test
  void partDigestsWithoutAPartSizeAreRejected() {
    assertThatThrownBy(() -> new CheckpointFile("model.bin", 10, A, 0, List.of(A)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void partSizeWithoutPartDigestsIsRejectedForANonEmptyFile() {
    assertThatThrownBy(() -> new CheckpointFile("model.bin", 10, A, MIB, List.of()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void negativePartSizeIsRejected() {
    assertThatThrownBy(() -> new CheckpointFile("model.bin", 10, A, -1, List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("partSize < 0");
  }

  @Test
  void partDigestsAreCopiedSoLaterChangesToTheListDoNotLeakIn() {
    List<String> parts = new ArrayList<>(List.of(A, B));
    CheckpointFile file = new CheckpointFile("model.bin", 2 * MIB, A, MIB, parts);

    parts.set(0, C);

    assertThat(file.partSha256()).containsExactly(A, B);
    assertThatThrownBy(() -> file.partSha256().add(C))
        .isInstanceOf(UnsupportedOperationException.class);
  }
}

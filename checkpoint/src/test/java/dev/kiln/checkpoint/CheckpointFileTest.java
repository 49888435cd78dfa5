package dev.kiln.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CheckpointFileTest {

  private static final long MIB = 1L << 20;
  private static final String SHA = "5".repeat(64);
  private static final String A = "aaaaaaaa";
  private static final String B = "bbbbbbbb";
  private static final String C = "cccccccc";

  @Test
  void threeArgumentConstructorMakesAFileWithoutParts() {
    CheckpointFile file = new CheckpointFile("state.json", 10, SHA);

    assertThat(file.partSize()).isZero();
    assertThat(file.partCrc32c()).isEmpty();
    assertThat(file).isEqualTo(new CheckpointFile("state.json", 10, SHA, 0, List.of()));
  }

  @Test
  void partCountMatchingSizeAndPartSizeIsAccepted() {
    CheckpointFile file = new CheckpointFile("model.bin", 2 * MIB + 1, SHA, MIB, List.of(A, B, C));

    assertThat(file.partCrc32c()).containsExactly(A, B, C);
  }

  @Test
  void tooFewPartChecksumsAreRejectedNamingBothCounts() {
    assertThatThrownBy(() -> new CheckpointFile("model.bin", 3 * MIB, SHA, MIB, List.of(A, B)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("partCrc32c has 2 checksums but a 3145728-byte file in parts of 1048576 has 3");
  }

  @Test
  void tooManyPartChecksumsAreRejected() {
    assertThatThrownBy(() -> new CheckpointFile("model.bin", 2 * MIB, SHA, MIB, List.of(A, B, C)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("has 2");
  }

  @Test
  void partChecksumsWithoutAPartSizeAreRejected() {
    assertThatThrownBy(() -> new CheckpointFile("model.bin", 10, SHA, 0, List.of(A)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void partSizeWithoutPartChecksumsIsRejectedForANonEmptyFile() {
    assertThatThrownBy(() -> new CheckpointFile("model.bin", 10, SHA, MIB, List.of()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void negativePartSizeIsRejected() {
    assertThatThrownBy(() -> new CheckpointFile("model.bin", 10, SHA, -1, List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("partSize < 0");
  }

  @Test
  void partChecksumsAreCopiedSoLaterChangesToTheListDoNotLeakIn() {
    List<String> parts = new ArrayList<>(List.of(A, B));
    CheckpointFile file = new CheckpointFile("model.bin", 2 * MIB, SHA, MIB, parts);

    parts.set(0, C);

    assertThat(file.partCrc32c()).containsExactly(A, B);
    assertThatThrownBy(() -> file.partCrc32c().add(C))
        .isInstanceOf(UnsupportedOperationException.class);
  }
}

package dev.kiln.tensorboard.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TagsTest {
  @Test
  void keepsWordCharactersDashSlashAndDot() {
    assertThat(Tags.sanitize("epoch/test_acc-1.5")).isEqualTo("epoch/test_acc-1.5");
    assertThat(Tags.sanitize("层/权重")).isEqualTo("层/权重");
  }

  @Test
  void replacesOtherCharactersWithUnderscore() {
    assertThat(Tags.sanitize("loss (val)%")).isEqualTo("loss__val__");
    assertThat(Tags.sanitize("a:b\nc")).isEqualTo("a_b_c");
  }

  @Test
  void removesLeadingSlashesAndNeverReturnsEmpty() {
    assertThat(Tags.sanitize("//train/loss")).isEqualTo("train/loss");
    assertThat(Tags.sanitize("")).isEqualTo("_");
    assertThat(Tags.sanitize("/")).isEqualTo("_");
  }
}

package dev.kiln.tensorboard.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigValuesTest {
  @Test
  void flattensNestedMapsWithDottedKeysAndKeepsPlainValues() {
    Map<String, Object> config =
        Map.of(
            "lr",
            0.01,
            "epochs",
            10,
            "amp",
            true,
            "optimizer",
            Map.of("name", "adam", "betas", List.of(0.9, 0.999)));

    assertThat(ConfigValues.flatten(config))
        .containsExactly(
            Map.entry("amp", true),
            Map.entry("epochs", 10),
            Map.entry("lr", 0.01),
            Map.entry("optimizer.betas", "[0.9, 0.999]"),
            Map.entry("optimizer.name", "adam"));
  }

  @Test
  void markdownTableEscapesPipes() {
    assertThat(ConfigValues.markdownTable(Map.of("a|b", "x|y")))
        .isEqualTo("| name | value |\n|---|---|\n| a\\|b | x\\|y |\n");
  }
}

package dev.kiln.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
  ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

  String text() {
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void withoutATerminalItPrintsAPlainLineEveryTenthOfTheEpoch() {
    ProgressBar bar = new ProgressBar(out, false, 2, 14, 100);
    for (int i = 1; i <= 100; i++) {
      bar.update(i, 0.5, 1000, (100 - i) * 0.01, i * 1_000_000L);
    }
    String[] lines = text().split("\n");
    assertThat(lines).hasSize(10);
    assertThat(lines[0])
        .isEqualTo("Epoch 2/14: batch 10/100 (10%) loss 0.5000 1000 samples/s ETA 0:01");
    assertThat(lines[9]).startsWith("Epoch 2/14: batch 100/100 (100%)");
  }

  @Test
  void onATerminalItRedrawsOneLineAtMostTenTimesASecondAndEndsWithANewline() {
    ProgressBar bar = new ProgressBar(out, true, 1, 1, 4);
    bar.update(1, 1.0, 10, 3, 1_000_000_000L);
    bar.update(2, 1.0, 10, 2, 1_050_000_000L); // 50 ms later: not redrawn
    bar.update(3, 1.0, 10, 1, 1_200_000_000L);
    bar.update(4, 1.0, 10, 0, 1_210_000_000L); // the last batch is always drawn
    String t = text();
    assertThat(t.chars().filter(c -> c == '\r').count()).isEqualTo(3);
    assertThat(t).contains("[=======>").contains(" 4/4 ").endsWith("\n");
  }

  @Test
  void etaIsShownAsMinutesAndSecondsOrHours() {
    assertThat(ProgressBar.eta(65)).isEqualTo("1:05");
    assertThat(ProgressBar.eta(3725)).isEqualTo("1:02:05");
    assertThat(ProgressBar.eta(Double.NaN)).isEqualTo("?");
  }
}

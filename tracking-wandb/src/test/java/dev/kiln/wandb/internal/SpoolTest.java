package dev.kiln.wandb.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpoolTest {
  @TempDir Path dir;

  @Test
  void aLineTornByACrashIsCutOffOnReopen() throws Exception {
    try (Spool s = Spool.open(dir)) {
      s.append("{\"type\":\"a\"}");
      s.append("{\"type\":\"b\"}");
    }
    Files.writeString(
        dir.resolve(Spool.FILE_NAME),
        "{\"type\":\"c",
        StandardCharsets.UTF_8,
        StandardOpenOption.APPEND);
    try (Spool s = Spool.open(dir)) {
      assertThat(s.priorLength()).isEqualTo(26);
      s.append("{\"type\":\"d\"}");
    }
    assertThat(Files.readAllLines(dir.resolve(Spool.FILE_NAME)))
        .containsExactly("{\"type\":\"a\"}", "{\"type\":\"b\"}", "{\"type\":\"d\"}");
  }

  @Test
  void theReaderReturnsWholeLinesWithTheirPositions() throws Exception {
    try (Spool s = Spool.open(dir)) {
      s.append("one");
      s.append("two");
      try (Spool.Reader r = new Spool.Reader(s.file())) {
        List<Spool.Line> lines = r.read(0, s.length(), 10, Long.MAX_VALUE);
        assertThat(lines).containsExactly(new Spool.Line(0, 4, "one"), new Spool.Line(4, 8, "two"));
        assertThat(r.read(4, s.length(), 10, Long.MAX_VALUE))
            .containsExactly(new Spool.Line(4, 8, "two"));
        assertThat(r.read(0, s.length(), 1, Long.MAX_VALUE)).hasSize(1);
      }
    }
  }

  @Test
  void theAckStateSurvivesAStoreAndLoad() throws Exception {
    AckState a = new AckState();
    a.pos = 123;
    a.historyLine = 7;
    a.eventsLine = 2;
    a.lastStep = 9;
    a.runtimeMax = 12.5;
    a.summary.put("loss", Double.NaN);
    a.pendingStep = 10;
    a.pendingRow = new java.util.LinkedHashMap<>(Map.of("_step", 10));
    a.store(dir);
    AckState b = AckState.load(dir);
    assertThat(b.pos).isEqualTo(123);
    assertThat(b.historyLine).isEqualTo(7);
    assertThat(b.lastStep).isEqualTo(9);
    assertThat(b.pendingStep).isEqualTo(10);
    assertThat(b.pendingRow).containsEntry("_step", 10);
    assertThat((Double) b.summary.get("loss")).isNaN();
    assertThat(dir.resolve(AckState.FILE_NAME + ".tmp")).doesNotExist();
  }
}

package dev.kiln.wandb;

import dev.kiln.tracking.DeviceReport;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/** Shared test values. */
final class Fixtures {
  static final String KEY = "kiln-test-key-0123456789abcdef0123456789abcdef";
  static final Instant T0 = Instant.parse("2026-11-27T00:51:13Z");

  private Fixtures() {}

  static WandbConfig.Builder config(String baseUrl) {
    return WandbConfig.builder()
        .environment(Map.of())
        .apiKey(KEY)
        .baseUrl(baseUrl)
        .project("p")
        .transmitInterval(Duration.ofMillis(20))
        .heartbeatInterval(Duration.ofHours(1))
        .retryBaseDelay(Duration.ofMillis(10))
        .retryMaxDelay(Duration.ofMillis(50))
        .finishTimeout(Duration.ofSeconds(20))
        .systemMetrics(false);
  }

  static RunStart start(Path dir, String runId) {
    return start(dir, runId, Optional.empty(), Map.of("lr", 0.1, "batch_size", 64));
  }

  static RunStart start(
      Path dir, String runId, Optional<ResumeInfo> resume, Map<String, Object> config) {
    return new RunStart(
        runId,
        "run-" + runId,
        dir,
        T0,
        config,
        new DeviceReport("PyTorch", "2.7.1", List.of(), "test", 1),
        resume);
  }

  static MetricsRecord step(long step, double loss) {
    return new MetricsRecord(
        MetricsRecord.Kind.STEP,
        step,
        1,
        T0.plusMillis(100 * step),
        Map.of("train_loss", loss, "lr", 0.1),
        Map.of());
  }

  static RunEnd end(RunEnd.Outcome outcome, long step) {
    return new RunEnd(
        outcome,
        step,
        1,
        T0.plusSeconds(60),
        outcome == RunEnd.Outcome.FAILED
            ? Optional.of("java.lang.IllegalStateException: boom")
            : Optional.empty());
  }

  /** Polls {@code condition} until it holds or {@code timeout} passes. */
  static boolean await(java.util.function.BooleanSupplier condition, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      java.util.concurrent.locks.LockSupport.parkNanos(5_000_000);
    }
    return true;
  }

  /** Everything written under {@code dir}, as text. */
  static String allFiles(Path dir) throws IOException {
    StringBuilder sb = new StringBuilder();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        sb.append(new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1)).append('\n');
      }
    }
    return sb.toString();
  }

  /** Copies System.err (where slf4j-simple logs) into a buffer while open. */
  static final class LogCapture implements AutoCloseable {
    private final PrintStream original = System.err;
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();

    LogCapture() {
      OutputStream tee =
          new OutputStream() {
            @Override
            public void write(int b) {
              synchronized (buffer) {
                buffer.write(b);
              }
              original.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
              synchronized (buffer) {
                buffer.write(b, off, len);
              }
              original.write(b, off, len);
            }
          };
      System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
    }

    String text() {
      synchronized (buffer) {
        return buffer.toString(StandardCharsets.UTF_8);
      }
    }

    int count(String needle) {
      String t = text();
      int n = 0;
      for (int i = t.indexOf(needle); i >= 0; i = t.indexOf(needle, i + 1)) {
        n++;
      }
      return n;
    }

    @Override
    public void close() {
      System.setErr(original);
    }
  }
}

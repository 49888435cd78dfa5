package dev.kiln.bench;

import dev.kiln.tensorboard.TensorBoardConfig;
import dev.kiln.tensorboard.TensorBoardTracker;
import dev.kiln.tracking.DeviceReport;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunStart;
import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Scalars per second through {@link TensorBoardTracker} (calls to {@code metrics()} plus the final
 * {@code flush()}, which syncs the file), next to raw buffered writes of the same bytes, record by
 * record, into a {@link BufferedOutputStream} followed by the same sync, in the same JVM.
 *
 * <p>Two workloads: step records (2 scalars: {@code train_loss}, {@code lr}) and epoch records (10
 * scalars). Records are built before timing. Each measurement is repeated; the median is printed.
 *
 * <pre>
 * mvn -B -q -o -pl tracking-tensorboard install -DskipTests &amp;&amp; mvn -B -q -o -pl bench compile
 * java -cp bench/target/classes:$(mvn -q -o -pl bench dependency:build-classpath \
 *     -Dmdep.outputFile=/dev/stdout) dev.kiln.bench.TensorBoardBenchmark
 * </pre>
 */
public final class TensorBoardBenchmark {
  private static final int REPEATS = 7;

  private TensorBoardBenchmark() {}

  public static void main(String[] args) throws Exception {
    System.out.printf(
        "TensorBoardBenchmark: %s %s, %d CPUs, median of %d runs after warm-up%n",
        System.getProperty("java.vm.name"),
        System.getProperty("java.version"),
        Runtime.getRuntime().availableProcessors(),
        REPEATS);
    Path work = Files.createTempDirectory("kiln-tb-bench");
    try {
      run(work, "step records, 2 scalars each", records(300_000, 2));
      run(work, "epoch records, 10 scalars each", records(60_000, 10));
    } finally {
      try (Stream<Path> files = Files.walk(work)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static List<MetricsRecord> records(int count, int scalarsEach) {
    String[] keys = {
      "train_loss",
      "lr",
      "test_loss",
      "test_acc",
      "time_taken",
      "time_data",
      "time_compute",
      "time_validation",
      "samples_per_sec",
      "epoch"
    };
    List<MetricsRecord> records = new ArrayList<>(count);
    Instant t = Instant.parse("2026-01-15T09:30:00Z");
    for (int i = 0; i < count; i++) {
      Map<String, Double> values = new LinkedHashMap<>();
      for (int k = 0; k < scalarsEach; k++) {
        values.put(keys[k], 1.0 / (i + k + 1));
      }
      records.add(
          new MetricsRecord(
              scalarsEach > 2 ? MetricsRecord.Kind.EPOCH : MetricsRecord.Kind.STEP,
              i + 1L,
              1 + i / 1000,
              t.plusMillis(i),
              values,
              Map.of()));
    }
    return records;
  }

  private static void run(Path work, String name, List<MetricsRecord> records) throws Exception {
    long scalars = records.stream().mapToLong(r -> r.values().size()).sum();
    long[] trackerNanos = new long[REPEATS];
    long[] rawNanos = new long[REPEATS];
    long bytes = 0;
    for (int warm = 0; warm < 2; warm++) {
      Path file = trackerRun(work.resolve("warm" + warm), records, new long[1]);
      rawRun(work.resolve("warm" + warm + ".raw"), splitRecords(Files.readAllBytes(file), 0));
    }
    for (int i = 0; i < REPEATS; i++) {
      long[] nanos = new long[1];
      Path runDir = work.resolve(name.hashCode() + "-" + i);
      Path file = trackerRun(runDir, records, nanos);
      trackerNanos[i] = nanos[0];
      byte[] all = Files.readAllBytes(file);
      // Only the bytes written during the timed part: skip the run-start records.
      List<byte[]> timed = splitRecords(all, startRecords(all, records.size()));
      bytes = timed.stream().mapToLong(b -> b.length).sum();
      rawNanos[i] = rawRun(runDir.resolve("raw.bin"), timed);
    }
    long tracker = median(trackerNanos);
    long raw = median(rawNanos);
    double trackerRate = scalars / (tracker / 1e9);
    double rawRate = scalars / (raw / 1e9);
    System.out.printf(
        "%n%s: %,d records, %,d scalars, %,d bytes written%n",
        name, records.size(), scalars, bytes);
    System.out.printf(
        "  tracker  metrics()+flush(): %8.1f ms  %,14.0f scalars/s%n", tracker / 1e6, trackerRate);
    System.out.printf(
        "  raw buffered writes+fsync:  %8.1f ms  %,14.0f scalars/s (same bytes)%n",
        raw / 1e6, rawRate);
    System.out.printf(
        "  ratio tracker/raw: %.2fx the raw time (raw is %.0f%% of the tracker's time)%n",
        (double) tracker / raw, 100.0 * raw / tracker);
  }

  private static Path trackerRun(Path runDir, List<MetricsRecord> records, long[] nanos)
      throws Exception {
    Files.createDirectories(runDir);
    TensorBoardTracker tracker =
        TensorBoardTracker.create(
            TensorBoardConfig.builder().flushInterval(Duration.ofHours(1)).build(),
            Clock.systemUTC());
    tracker.runStarted(
        new RunStart(
            "bench001",
            "bench",
            runDir,
            Instant.now(),
            Map.of("lr", 1.0, "batch_size", 64),
            new DeviceReport("PyTorch", "2.7.1", List.of(), "benchmark", 1),
            Optional.empty()));
    long t0 = System.nanoTime();
    for (MetricsRecord r : records) {
      tracker.metrics(r);
    }
    tracker.flush();
    nanos[0] = System.nanoTime() - t0;
    tracker.close();
    return tracker.logDirectory().orElseThrow().resolve(only(tracker.logDirectory().get()));
  }

  private static String only(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.findFirst().orElseThrow().getFileName().toString();
    }
  }

  private static long rawRun(Path file, List<byte[]> chunks) throws IOException {
    long t0 = System.nanoTime();
    try (FileOutputStream fos = new FileOutputStream(file.toFile());
        BufferedOutputStream out = new BufferedOutputStream(fos, 256 * 1024)) {
      for (byte[] chunk : chunks) {
        out.write(chunk);
      }
      out.flush();
      fos.getChannel().force(false);
    }
    return System.nanoTime() - t0;
  }

  /** Index of the first record written by metrics(): the records after run start's. */
  private static int startRecords(byte[] file, int metricRecords) {
    return splitRecords(file, 0).size() - metricRecords;
  }

  /** Splits a TFRecord file into framed records, dropping the first {@code skip}. */
  private static List<byte[]> splitRecords(byte[] file, int skip) {
    ByteBuffer in = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
    List<byte[]> out = new ArrayList<>();
    int index = 0;
    while (in.remaining() >= 12) {
      int start = in.position();
      int length = (int) in.getLong(start);
      int total = 12 + length + 4;
      if (index++ >= skip) {
        out.add(Arrays.copyOfRange(file, start, start + total));
      }
      in.position(start + total);
    }
    return out;
  }

  private static long median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}

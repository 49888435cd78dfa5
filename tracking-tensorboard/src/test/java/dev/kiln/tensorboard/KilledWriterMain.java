package dev.kiln.tensorboard;

import dev.kiln.tracking.DeviceReport;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunStart;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Run in a child JVM by {@link TensorBoardTrackerTest}: writes step metrics forever, flushing every
 * 100 steps and printing {@code flushed <step>} after each flush, until it is killed.
 */
public final class KilledWriterMain {
  public static void main(String[] args) throws Exception {
    Path runDir = Path.of(args[0]);
    TensorBoardTracker tracker =
        TensorBoardTracker.create(
            TensorBoardConfig.builder().bufferSize(4096).flushInterval(Duration.ofDays(1)).build(),
            Clock.systemUTC());
    tracker.runStarted(
        new RunStart(
            "kill0001",
            "killed",
            runDir,
            Instant.now(),
            Map.of("lr", 0.1),
            new DeviceReport("PyTorch", "2.7.1", List.of(), "test", 1),
            Optional.empty()));
    for (long step = 1; ; step++) {
      tracker.metrics(
          new MetricsRecord(
              MetricsRecord.Kind.STEP,
              step,
              1,
              Instant.now(),
              Map.of("train_loss", (double) step, "lr", 0.1),
              Map.of()));
      if (step % 100 == 0) {
        tracker.flush();
        System.out.println("flushed " + step);
        System.out.flush();
      }
    }
  }
}

package dev.kiln.testing;

import dev.kiln.tracking.DeviceReport;
import dev.kiln.tracking.HistogramRecord;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.StopRequest;
import dev.kiln.tracking.Summary;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Plausible tracker events for tests, shaped like those Kiln's trainer sends for an MNIST run.
 *
 * <p>Times are deterministic: step {@code s} happens {@code s} seconds after {@link #START}. Step
 * records carry {@code train_loss} and {@code lr}; epoch records carry the keys {@link
 * MetricsRecord} documents.
 */
public final class SampleEvents {

  /** The run id every sample run uses; eight characters of {@code [a-z0-9]}. */
  public static final String RUN_ID = "k1lnt3st";

  /** The run name every sample run uses. */
  public static final String RUN_NAME = "mnist-cnn-sample";

  /** When sample runs start. */
  public static final Instant START = Instant.parse("2026-01-15T09:30:00Z");

  private SampleEvents() {}

  /** The time of step {@code step}: {@code step} seconds after {@link #START}. */
  public static Instant time(long step) {
    return START.plusSeconds(step);
  }

  /** A fresh run's start, with a config of strings, numbers, booleans, a list and a map. */
  public static RunStart runStart(Path runDirectory) {
    return new RunStart(
        RUN_ID, RUN_NAME, runDirectory, START, config(), devices(), Optional.empty());
  }

  /**
   * The start of the same run resumed from a checkpoint at {@code step} after {@code epoch} epochs;
   * the tracker must accept metrics at steps above {@code step}.
   */
  public static RunStart resumedRunStart(Path runDirectory, long step, int epoch) {
    return new RunStart(
        RUN_ID,
        RUN_NAME,
        runDirectory,
        time(step).plusSeconds(3600),
        config(),
        devices(),
        Optional.of(new ResumeInfo(step, epoch, String.format("ckpt-%06d", step))));
  }

  /** The sample run's config: plain values as Kiln passes them. */
  public static Map<String, Object> config() {
    Map<String, Object> optimizer = new LinkedHashMap<>();
    optimizer.put("name", "adadelta");
    optimizer.put("lr", 1.0);
    optimizer.put("rho", 0.9);
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("model", "Net");
    config.put("epochs", 14);
    config.put("batch_size", 64);
    config.put("seed", 1L);
    config.put("gamma", 0.7);
    config.put("shuffle", true);
    config.put("devices", List.of("cpu()"));
    config.put("optimizer", optimizer);
    return config;
  }

  /** A CPU-only device report. */
  public static DeviceReport devices() {
    return new DeviceReport(
        "PyTorch",
        "2.7.1",
        List.of(new DeviceReport.Device("cpu()", "CPU", -1, -1)),
        "auto: no CUDA GPU visible",
        2);
  }

  /** A step record with {@code train_loss} and a learning rate. */
  public static MetricsRecord stepMetrics(long step, int epoch, double trainLoss) {
    return new MetricsRecord(
        MetricsRecord.Kind.STEP,
        step,
        epoch,
        time(step),
        Map.of("train_loss", trainLoss, "lr", 1.0 * Math.pow(0.7, epoch - 1)),
        Map.of());
  }

  /**
   * An epoch record with the keys Kiln's trainer sends, validation loss {@code testLoss} and
   * accuracy {@code testAcc}, and a {@code verdict} note.
   */
  public static MetricsRecord epochMetrics(long step, int epoch, double testLoss, double testAcc) {
    Map<String, Double> values = new LinkedHashMap<>();
    values.put("epoch", (double) epoch);
    values.put("train_loss", 0.3 / epoch);
    values.put("lr", Math.pow(0.7, epoch - 1));
    values.put("time_taken", 12.5);
    values.put("time_data", 1.5);
    values.put("time_compute", 11.0);
    values.put("time_validation", 0.8);
    values.put("time_tracking", 0.01);
    values.put("time_checkpoint", 0.2);
    values.put("samples_per_sec", 4800.0);
    values.put("test_loss", testLoss);
    values.put("test_acc", testAcc);
    return new MetricsRecord(
        MetricsRecord.Kind.EPOCH, step, epoch, time(step), values, Map.of("verdict", "improving"));
  }

  /** A step record with arbitrary values, e.g. NaN or infinities. */
  public static MetricsRecord metrics(long step, int epoch, Map<String, Double> values) {
    return new MetricsRecord(MetricsRecord.Kind.STEP, step, epoch, time(step), values, Map.of());
  }

  /** A summary with latest and best values at {@code step}. */
  public static Summary summary(long step) {
    return new Summary(
        step, Map.of("test_loss", 0.31, "test_acc", 0.89, "best_test_loss", 0.29, "epoch", 3.0));
  }

  /** Histograms of two tensors, in TensorBoard's bucket form. */
  public static HistogramRecord histograms(long step) {
    return new HistogramRecord(
        step,
        time(step),
        List.of(
            new HistogramRecord.Histogram(
                "weights/conv1",
                -0.5,
                0.5,
                288,
                1.2,
                20.4,
                new double[] {-0.25, 0.0, 0.25, 0.5},
                new double[] {40, 104, 100, 44}),
            new HistogramRecord.Histogram(
                "gradients/fc2",
                -1e-3,
                2e-3,
                1280,
                0.05,
                1e-4,
                new double[] {0.0, 2e-3},
                new double[] {700, 580})));
  }

  /** The end of a run that finished all its epochs. */
  public static RunEnd finished(long step, int epoch) {
    return new RunEnd(RunEnd.Outcome.FINISHED, step, epoch, time(step), Optional.empty());
  }

  /** The end of a run whose training threw. */
  public static RunEnd failed(long step, int epoch) {
    return new RunEnd(
        RunEnd.Outcome.FAILED,
        step,
        epoch,
        time(step),
        Optional.of(
            "ai.djl.engine.EngineException: CUDA out of memory. Tried to allocate 2.00 GiB"));
  }

  /** A stop request by SIGTERM, as a spot instance's preemption notice sends. */
  public static StopRequest stopRequest(long step, int epoch) {
    return new StopRequest("SIGTERM", step, epoch, time(step));
  }

  /** The end of a run stopped by a signal after a final checkpoint. */
  public static RunEnd interrupted(long step, int epoch) {
    return new RunEnd(RunEnd.Outcome.INTERRUPTED, step, epoch, time(step), Optional.empty());
  }
}

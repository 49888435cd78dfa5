package dev.kiln.bench;

import dev.kiln.tracking.DeviceReport;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.Summary;
import dev.kiln.wandb.WandbConfig;
import dev.kiln.wandb.WandbTracker;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;

/**
 * Does the W&amp;B tracker slow training down when the server is slow or dead?
 *
 * <p>Each simulated training step does a fixed amount of CPU work (about 2 ms, like a small model's
 * step) and then the tracker work of a step: one {@code metrics()} call, and every 50 steps an
 * epoch record, a summary and a flush. Three trackers run interleaved in the same JVM: off (a no-op
 * tracker), W&amp;B against a server that answers every request after 30 s, and W&amp;B against a
 * closed port. Each round times {@code steps} steps per tracker; the median per-step time over
 * rounds is compared with "off".
 *
 * <pre>
 * java -cp "bench/target/classes:bench/target/lib/*" dev.kiln.bench.WandbBenchmark [rounds] [steps]
 * </pre>
 */
public final class WandbBenchmark {
  private static volatile double sink;

  private WandbBenchmark() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 31;
    int steps = args.length > 1 ? Integer.parseInt(args[1]) : 200;
    int warmupRounds = 5;
    Path work = Files.createTempDirectory("wandb-bench");

    CountDownLatch never = new CountDownLatch(1);
    MockWebServer slow = new MockWebServer();
    slow.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
            never.await(30, TimeUnit.SECONDS);
            return new MockResponse.Builder().code(200).body("{\"data\":{}}").build();
          }
        });
    slow.start(InetAddress.getByName("127.0.0.1"), 0);
    int deadPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      deadPort = s.getLocalPort();
    }

    Map<String, ExperimentTracker> trackers = new LinkedHashMap<>();
    trackers.put("off", new NoOpTracker());
    trackers.put("wandb, 30 s server", wandb("http://127.0.0.1:" + slow.getPort()));
    trackers.put("wandb, dead server", wandb("http://127.0.0.1:" + deadPort));
    int n = 0;
    for (Map.Entry<String, ExperimentTracker> e : trackers.entrySet()) {
      Path dir = Files.createDirectories(work.resolve("run" + n));
      e.getValue().runStarted(runStart(dir, "bench00" + n++));
    }

    long[] stepCounter = new long[trackers.size()];
    Map<String, List<Double>> perStepMicros = new LinkedHashMap<>();
    Map<String, long[]> callNanos = new LinkedHashMap<>();
    trackers.keySet().forEach(k -> callNanos.put(k, new long[2]));
    trackers.keySet().forEach(k -> perStepMicros.put(k, new ArrayList<>()));
    // Warm-up rounds (JIT), not counted.
    for (int round = -warmupRounds; round < rounds; round++) {

      List<String> order = new ArrayList<>(trackers.keySet());
      if (Math.floorMod(round, 2) == 1) {
        java.util.Collections.reverse(order);
      }
      for (String name : order) {
        int idx = new ArrayList<>(trackers.keySet()).indexOf(name);
        ExperimentTracker t = trackers.get(name);
        long t0 = System.nanoTime();
        for (int s = 0; s < steps; s++) {
          trainingWork();
          long c0 = System.nanoTime();
          long step = ++stepCounter[idx];
          t.metrics(
              new MetricsRecord(
                  MetricsRecord.Kind.STEP,
                  step,
                  1,
                  Instant.now(),
                  Map.of("train_loss", 1.0 / step, "lr", 0.01),
                  Map.of()));
          if (step % 50 == 0) {
            t.metrics(
                new MetricsRecord(
                    MetricsRecord.Kind.EPOCH,
                    step,
                    1,
                    Instant.now(),
                    Map.of("train_loss", 0.5, "test_loss", 0.4, "test_acc", 0.9, "time_taken", 1.0),
                    Map.of()));
            t.summary(new Summary(step, Map.of("best_test_loss", 0.4)));
            t.flush();
          }
          if (round >= 0) {
            callNanos.get(name)[0] += System.nanoTime() - c0;
            callNanos.get(name)[1]++;
          }
        }
        long t1 = System.nanoTime();
        if (round >= 0) {
          perStepMicros.get(name).add((t1 - t0) / 1e3 / steps);
        }
      }
    }

    double off = median(perStepMicros.get("off"));
    System.out.printf(
        "W&B tracker overhead: %d rounds x %d steps per tracker, interleaved%n", rounds, steps);
    for (Map.Entry<String, List<Double>> e : perStepMicros.entrySet()) {
      double m = median(e.getValue());
      System.out.printf(
          "  %-20s median %8.1f us/step   ratio %.4f   difference %+.2f%%   in tracker calls %6.2f"
              + " us/step (%.2f%% of a step)%n",
          e.getKey(),
          m,
          m / off,
          100 * (m / off - 1),
          callNanos.get(e.getKey())[0] / 1e3 / callNanos.get(e.getKey())[1],
          100 * callNanos.get(e.getKey())[0] / 1e3 / callNanos.get(e.getKey())[1] / off);
    }

    for (ExperimentTracker t : trackers.values()) {
      t.runEnded(new RunEnd(RunEnd.Outcome.FINISHED, 1, 1, Instant.now(), Optional.empty()));
    }
    long c0 = System.nanoTime();
    for (ExperimentTracker t : trackers.values()) {
      t.close();
    }
    System.out.printf(
        "  close() of all trackers took %.1f s (bounded by finishTimeout = 2 s each; records stay"
            + " in the spool)%n",
        (System.nanoTime() - c0) / 1e9);
    never.countDown();
    slow.close();
    System.exit(0);
  }

  private static ExperimentTracker wandb(String url) {
    WandbConfig config =
        WandbConfig.builder()
            .environment(Map.of())
            .apiKey("bench-key-not-a-secret")
            .baseUrl(url)
            .project("bench")
            .finishTimeout(Duration.ofSeconds(2))
            .build();
    return WandbTracker.builder(config).build();
  }

  /** About 2 ms of floating-point work, standing in for a small model's training step. */
  private static void trainingWork() {
    double acc = 0;
    for (int i = 1; i < 700_000; i++) {
      acc += Math.sqrt(i) * 1e-9;
    }
    sink = acc;
  }

  private static double median(List<Double> v) {
    double[] a = v.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(a);
    return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  }

  private static RunStart runStart(Path dir, String id) {
    return new RunStart(
        id,
        id,
        dir,
        Instant.now(),
        Map.of("lr", 0.01),
        new DeviceReport("PyTorch", "2.7.1", List.of(), "benchmark", 1),
        Optional.empty());
  }

  private static final class NoOpTracker implements ExperimentTracker {
    @Override
    public String name() {
      return "off";
    }

    @Override
    public void runStarted(RunStart start) {}

    @Override
    public void metrics(MetricsRecord record) {}

    @Override
    public void runEnded(RunEnd end) {}
  }
}

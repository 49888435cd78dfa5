package dev.kiln.bench;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Record;
import ai.djl.training.loss.Loss;
import dev.kiln.CheckpointPolicy;
import dev.kiln.EpochResult;
import dev.kiln.FitResult;
import dev.kiln.Trainer;
import dev.kiln.TrainerConfig;
import dev.kiln.data.MnistDataset;
import dev.kiln.examples.MnistNet;
import dev.kiln.internal.EngineTuning;
import dev.kiln.optim.Adam;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Kiln's {@code Trainer.fit} against a hand-written DJL loop, in one process: the seed CNN ({@link
 * MnistNet}), Adam (lr 1e-3), batch 64, one epoch on the first N Fashion-MNIST training images,
 * CPU. Runs alternate DJL, Kiln, DJL, Kiln… after one short untimed warm-up of each, and each run
 * records the CPU time other processes used meanwhile, so a contaminated run can be recognized.
 *
 * <p>The DJL side is DJL's own recipe: {@code DefaultTrainingConfig} with DJL's Adam (DJL's
 * Adadelta fails on the PyTorch engine), no executor, no listeners, an {@code ArrayDataset}
 * shuffled in batches of 64, and {@code EasyTrain.trainBatch} + {@code trainer.step()} per batch.
 * The Kiln side is {@code Trainer.fit} with Kiln's Adam, one data worker ({@code --workers}), no
 * trackers, no checkpoints; its time is the epoch's {@code time_taken} (training only, validation
 * excluded). Both run after Kiln's allocator tuning, which is process-wide, so they share allocator
 * settings.
 *
 * <pre>
 * java -cp "bench/target/classes:bench/target/lib/*" dev.kiln.bench.TrainerBenchmark [--data DIR] [--images N] [--rounds R] [--workers N]
 * </pre>
 */
public final class TrainerBenchmark {

  private static final int BATCH = 64;
  private static final long CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

  private TrainerBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path data =
        Path.of(System.getenv().getOrDefault("KILN_DATA", "/usr/share/datasets/fashion-mnist"));
    int images = 10_000;
    int rounds = 2;
    int workers = 1;
    String child = null;
    boolean defaults = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--defaults" -> defaults = true;
        case "--child" -> child = args[++i];
        case "--data" -> data = Path.of(args[++i]);
        case "--images" -> images = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--workers" -> workers = Integer.parseInt(args[++i]);
        default ->
            throw new IllegalArgumentException(
                "unknown option "
                    + args[i]
                    + " — use --data DIR, --images N, --rounds R, --workers N, --defaults");
      }
    }
    if (defaults) {
      compareDefaults(data, images, rounds, workers);
      return;
    }
    if (child != null) {
      runChild(child, data, images, workers);
      return;
    }
    boolean tuned =
        EngineTuning.applyMallocTuning(); // before the engine loads; both sides share it
    MnistDataset train = MnistDataset.builder(data, MnistDataset.Split.TRAIN).limit(images).build();
    MnistDataset test = MnistDataset.builder(data, MnistDataset.Split.TEST).limit(1000).build();
    System.out.printf(
        Locale.ROOT,
        "Seed CNN, Adam lr 1e-3, batch %d, 1 epoch on %d Fashion-MNIST images, %s, %d threads,"
            + " malloc tuning %s; Kiln data workers %d; %d rounds; load before: %s%n",
        BATCH,
        images,
        Engine.getInstance().defaultDevice(),
        Runtime.getRuntime().availableProcessors(),
        tuned ? "on" : "off",
        workers,
        rounds,
        loadAverage());

    try (NDManager manager = NDManager.newBaseManager()) {
      ArrayDataset djlData = toArrayDataset(manager, train);
      MnistDataset warmTrain =
          MnistDataset.builder(data, MnistDataset.Split.TRAIN).limit(640).build();
      ArrayDataset djlWarm = toArrayDataset(manager, warmTrain);
      djlEpoch(djlWarm); // warm-up, untimed
      kilnEpoch(warmTrain, test, workers);

      List<Double> djl = new ArrayList<>();
      List<Double> kiln = new ArrayList<>();
      for (int r = 1; r <= rounds; r++) {
        Load l0 = Load.now();
        double d = djlEpoch(djlData);
        Load l1 = Load.now();
        djl.add(d);
        System.out.printf(Locale.ROOT, "round %d  DJL loop  : %6.2f s   %s%n", r, d, l0.until(l1));

        EpochResult e = kilnEpoch(train, test, workers);
        Load l2 = Load.now();
        double k = e.metric("time_taken");
        kiln.add(k);
        System.out.printf(
            Locale.ROOT,
            "round %d  Kiln fit  : %6.2f s   %s  (data wait %.2f s, compute %.2f s, %.0f samples/s;"
                + " validation %.2f s not counted)%n",
            r,
            k,
            l1.until(l2),
            e.metric("time_data"),
            e.metric("time_compute"),
            e.metric("samples_per_sec"),
            e.metric("time_validation"));
        System.out.printf(
            Locale.ROOT,
            "          ratio Kiln/DJL this round: %.3f; verdict: %s%n",
            k / d,
            e.verdict());
      }
      double dm = mean(djl);
      double km = mean(kiln);
      System.out.printf(
          Locale.ROOT,
          "mean: DJL loop %.2f s, Kiln fit %.2f s, ratio Kiln/DJL %.3f (best-of: DJL %.2f s,"
              + " Kiln %.2f s, ratio %.3f); load after: %s%n",
          dm,
          km,
          km / dm,
          min(djl),
          min(kiln),
          min(kiln) / min(djl),
          loadAverage());
    }
  }

  /** One epoch of the hand-written DJL loop; returns its wall time in seconds. */
  /**
   * Each side in fresh JVMs with its own defaults: the DJL loop as a user would write it (no Kiln
   * process tuning), Kiln's {@code Trainer.fit} with Kiln's defaults. Alternates, prints ratios.
   */
  private static void compareDefaults(Path data, int images, int rounds, int workers)
      throws Exception {
    System.out.printf(
        Locale.ROOT,
        "Defaults against defaults, a fresh JVM per epoch: seed CNN, Adam, batch %d, %d images;"
            + " %d rounds; load before: %s%n",
        BATCH,
        images,
        rounds,
        loadAverage());
    List<Double> djl = new ArrayList<>();
    List<Double> kiln = new ArrayList<>();
    for (int r = 1; r <= rounds; r++) {
      for (String side : new String[] {"djl", "kiln"}) {
        Load l0 = Load.now();
        double t = childEpoch(side, data, images, workers);
        Load l1 = Load.now();
        (side.equals("djl") ? djl : kiln).add(t);
        System.out.printf(
            Locale.ROOT,
            "round %d  %-9s: %6.2f s   %s (the child JVM itself counts as another process)%n",
            r,
            side.equals("djl") ? "DJL loop" : "Kiln fit",
            t,
            l0.until(l1));
      }
    }
    System.out.printf(
        Locale.ROOT,
        "mean: DJL loop %.2f s, Kiln fit %.2f s, ratio Kiln/DJL %.3f (best-of ratio %.3f); load"
            + " after: %s%n",
        mean(djl),
        mean(kiln),
        mean(kiln) / mean(djl),
        min(kiln) / min(djl),
        loadAverage());
  }

  private static double childEpoch(String side, Path data, int images, int workers)
      throws Exception {
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                TrainerBenchmark.class.getName(),
                "--child",
                side,
                "--data",
                data.toString(),
                "--images",
                Integer.toString(images),
                "--workers",
                Integer.toString(workers))
            .redirectErrorStream(true)
            .start();
    Double result = null;
    try (var r =
        new java.io.BufferedReader(
            new java.io.InputStreamReader(
                p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.startsWith("SPLIT ")) {
          System.out.println("          Kiln " + line.substring(6));
        }
        if (line.startsWith("RESULT ")) {
          result = Double.parseDouble(line.substring(7));
        }
      }
    }
    if (p.waitFor() != 0 || result == null) {
      throw new IllegalStateException("benchmark child " + side + " failed: exit " + p.exitValue());
    }
    return result;
  }

  /** One side in this JVM: a warm-up, then one timed epoch; prints {@code RESULT <seconds>}. */
  private static void runChild(String side, Path data, int images, int workers) throws Exception {
    MnistDataset train = MnistDataset.builder(data, MnistDataset.Split.TRAIN).limit(images).build();
    MnistDataset test = MnistDataset.builder(data, MnistDataset.Split.TEST).limit(1000).build();
    MnistDataset warm = MnistDataset.builder(data, MnistDataset.Split.TRAIN).limit(640).build();
    if (side.equals("djl")) {
      try (NDManager manager = NDManager.newBaseManager()) {
        djlEpoch(toArrayDataset(manager, warm));
        System.out.println("RESULT " + djlEpoch(toArrayDataset(manager, train)));
      }
    } else {
      kilnEpoch(warm, test, workers);
      EpochResult e = kilnEpoch(train, test, workers);
      System.out.printf(
          Locale.ROOT,
          "SPLIT data wait %.2f s, compute %.2f s, %.0f samples/s; verdict: %s%n",
          e.metric("time_data"),
          e.metric("time_compute"),
          e.metric("samples_per_sec"),
          e.verdict());
      System.out.println("RESULT " + e.metric("time_taken"));
    }
  }

  private static double djlEpoch(ArrayDataset dataset) throws Exception {
    Engine.getInstance().setRandomSeed(1);
    try (Model model = Model.newInstance("djl-loop")) {
      model.setBlock(MnistNet.newBlock());
      DefaultTrainingConfig config =
          new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
              .optOptimizer(ai.djl.training.optimizer.Adam.builder().build())
              .optDevices(new Device[] {Device.cpu()});
      try (ai.djl.training.Trainer trainer = model.newTrainer(config)) {
        trainer.initialize(new Shape(BATCH, 1, 28, 28));
        long t0 = System.nanoTime();
        for (Batch batch : trainer.iterateDataset(dataset)) {
          EasyTrain.trainBatch(trainer, batch);
          trainer.step();
          batch.close();
        }
        return (System.nanoTime() - t0) / 1e9;
      }
    }
  }

  /** One epoch of Trainer.fit; returns the epoch's result. */
  private static EpochResult kilnEpoch(MnistDataset train, MnistDataset test, int workers)
      throws IOException {
    Path runDir = Files.createTempDirectory("kiln-bench-");
    try {
      TrainerConfig config =
          TrainerConfig.builder(Loss.softmaxCrossEntropyLoss(), Adam.builder().build())
              .epochs(1)
              .batchSize(BATCH)
              .validationBatchSize(1000)
              .seed(1)
              .devices("cpu")
              .workers(workers)
              .runDirectory(runDir)
              .trackerNames(List.of())
              .checkpoints(CheckpointPolicy.none())
              .progress(TrainerConfig.Progress.OFF)
              .handleSignals(false)
              .build();
      FitResult result = Trainer.fit(MnistNet.newBlock(), train, test, config);
      return result.last().orElseThrow();
    } finally {
      try (Stream<Path> files = Files.walk(runDir)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /** The images and labels in memory as DJL's ArrayDataset, shuffled in batches of 64. */
  private static ArrayDataset toArrayDataset(NDManager manager, MnistDataset source) {
    int n = Math.toIntExact(source.size());
    NDList images = new NDList(n);
    float[] labels = new float[n];
    try (NDManager tmp = manager.newSubManager()) {
      for (int i = 0; i < n; i++) {
        Record r = source.get(tmp, i);
        images.add(r.getData().head());
        labels[i] = source.label(i);
      }
      NDArray x = NDArrays.stack(images);
      x.attach(manager);
      return new ArrayDataset.Builder()
          .setData(x)
          .optLabels(manager.create(labels))
          .setSampling(BATCH, true)
          .build();
    }
  }

  private static double mean(List<Double> xs) {
    return xs.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
  }

  private static double min(List<Double> xs) {
    return xs.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
  }

  private static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException e) {
      return "unknown";
    }
  }

  /** CPU counters: the machine's busy and steal time and this process's own CPU time, in ticks. */
  private record Load(long wallNanos, long busy, long steal, long self) {
    static Load now() {
      try {
        String[] cpu = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
        long busy = 0;
        for (int i : new int[] {1, 2, 3, 6, 7}) { // user nice system irq softirq
          busy += Long.parseLong(cpu[i]);
        }
        long steal = cpu.length > 8 ? Long.parseLong(cpu[8]) : 0;
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] s = stat.substring(stat.lastIndexOf(')') + 2).split("\\s+");
        long self = Long.parseLong(s[11]) + Long.parseLong(s[12]); // utime + stime
        return new Load(System.nanoTime(), busy, steal, self);
      } catch (IOException | RuntimeException e) {
        return new Load(System.nanoTime(), -1, -1, -1);
      }
    }

    /** Other processes' CPU use between this and {@code later}, as cores on average. */
    String until(Load later) {
      if (busy < 0 || later.busy < 0) {
        return "[other processes: unknown]";
      }
      double wall = (later.wallNanos - wallNanos) / 1e9;
      double others = (double) ((later.busy - busy) - (later.self - self)) / CLOCK_TICKS_PER_SECOND;
      double stolen = (double) (later.steal - steal) / CLOCK_TICKS_PER_SECOND;
      return String.format(
          Locale.ROOT,
          "[other processes %.2f cores, steal %.2f cores]",
          Math.max(0, others) / wall,
          stolen / wall);
    }
  }
}

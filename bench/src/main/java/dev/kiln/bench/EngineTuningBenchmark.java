package dev.kiln.bench;

import ai.djl.Model;
import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.loss.Loss;
import dev.kiln.CheckpointPolicy;
import dev.kiln.FitResult;
import dev.kiln.Trainer;
import dev.kiln.TrainerConfig;
import dev.kiln.data.MnistDataset;
import dev.kiln.examples.MnistNet;
import dev.kiln.optim.Adam;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Measures, side by side in one run, the process settings Kiln applies by default: glibc malloc
 * tuning (on unless {@code KILN_MALLOC_TUNING=false}). Each measurement is a fresh JVM (malloc
 * settings cannot be undone inside a process) training the seed CNN for one epoch on the first N
 * Fashion-MNIST images; runs alternate on/off. Prints epoch times, minor page faults and ratios.
 *
 * <pre>
 * java -cp "bench/target/classes:bench/target/lib/*" dev.kiln.bench.EngineTuningBenchmark [images] [rounds]
 * </pre>
 */
public final class EngineTuningBenchmark {
  private EngineTuningBenchmark() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("child")) {
      child(Integer.parseInt(args[1]));
      return;
    }
    int images = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    List<double[]> on = new ArrayList<>();
    List<double[]> off = new ArrayList<>();
    System.out.printf(
        Locale.ROOT,
        "seed CNN, Adam, batch 64, %d images, 1 epoch, CPU; %d rounds%n",
        images,
        rounds);
    for (int r = 0; r < rounds; r++) {
      for (boolean tuned : new boolean[] {false, true}) {
        double[] m = runChild(images, tuned);
        (tuned ? on : off).add(m);
        System.out.printf(
            Locale.ROOT,
            "round %d malloc tuning %-3s: training %.2f s, minor page faults %,.0f, load %s%n",
            r + 1,
            tuned ? "on" : "off",
            m[0],
            m[1],
            load());
      }
    }
    double onT = median(on, 0);
    double offT = median(off, 0);
    System.out.printf(
        Locale.ROOT,
        "median training time: tuned %.2f s, untuned %.2f s, ratio tuned/untuned %.3f;"
            + " page faults tuned %,.0f vs untuned %,.0f%n",
        onT,
        offT,
        onT / offT,
        median(on, 1),
        median(off, 1));
  }

  private static double[] runChild(int images, boolean tuned) throws Exception {
    String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(
            java,
            "-cp",
            System.getProperty("java.class.path"),
            EngineTuningBenchmark.class.getName(),
            "child",
            Integer.toString(images));
    pb.environment().put("KILN_MALLOC_TUNING", Boolean.toString(tuned));
    pb.redirectErrorStream(true);
    Process p = pb.start();
    double[] result = null;
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.startsWith("RESULT ")) {
          String[] f = line.split(" ");
          result = new double[] {Double.parseDouble(f[1]), Double.parseDouble(f[2])};
        }
      }
    }
    if (p.waitFor() != 0 || result == null) {
      throw new IllegalStateException("benchmark child failed with exit code " + p.exitValue());
    }
    return result;
  }

  private static void child(int images) throws Exception {
    Path data = Paths.get("/usr/share/datasets/fashion-mnist");
    MnistDataset train = MnistDataset.builder(data, MnistDataset.Split.TRAIN).limit(images).build();
    MnistDataset test = MnistDataset.builder(data, MnistDataset.Split.TEST).limit(1000).build();
    Path runs = Files.createTempDirectory("kiln-bench");
    long faultsBefore = minorFaults();
    try (Model model = Model.newInstance("bench")) {
      model.setBlock(MnistNet.newBlock());
      TrainerConfig config =
          TrainerConfig.builder(
                  Loss.softmaxCrossEntropyLoss(), Adam.builder().learningRate(1e-3).build())
              .evaluator(new Accuracy("acc", 1))
              .batchSize(64)
              .validationBatchSize(1000)
              .seed(1)
              .runDirectory(runs.resolve("run"))
              .trackerNames(List.of())
              .progress(TrainerConfig.Progress.OFF)
              .checkpoints(CheckpointPolicy.none())
              .build();
      FitResult r = Trainer.fit(model, train, test, config);
      long faults = minorFaults() - faultsBefore;
      System.out.printf(
          Locale.ROOT, "RESULT %.4f %d%n", r.last().orElseThrow().metric("time_taken"), faults);
    }
  }

  /** Minor page faults of this process so far (Linux). */
  static long minorFaults() {
    try {
      String stat = Files.readString(Paths.get("/proc/self/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[7]); // minflt is field 10 of stat; 8th after the command
    } catch (Exception e) {
      return -1;
    }
  }

  static String load() {
    try {
      return Files.readString(Paths.get("/proc/loadavg")).split(" ")[0];
    } catch (Exception e) {
      return "?";
    }
  }

  private static double median(List<double[]> values, int index) {
    double[] v = values.stream().mapToDouble(a -> a[index]).sorted().toArray();
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }
}

package dev.kiln.examples;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The command line of {@link MnistTraining}, parsed. Defaults are the course notes' script: 14
 * epochs, batch 64, test batch 1000, Adadelta lr 1.0, StepLR gamma 0.7, seed 1, one data worker.
 *
 * <p>Flags take their value as the next argument or after {@code =}: {@code --epochs 3} and {@code
 * --epochs=3} are the same.
 */
public final class TrainingOptions {

  /** Trackers used when {@code --trackers} is not given. */
  public static final List<String> DEFAULT_TRACKERS = List.of("console", "jsonl", "tensorboard");

  /** Run directory used when {@code --run-dir} is not given. */
  public static final Path DEFAULT_RUN_DIRECTORY = Path.of("runs", "mnist");

  private Path data;
  private Path dataArchive;
  private Path mirror;
  private int epochs = 14;
  private int limit;
  private int testLimit;
  private int batchSize = 64;
  private int testBatchSize = 1000;
  private double learningRate = 1.0;
  private double gamma = 0.7;
  private int workers = 1;
  private long seed = 1;
  private String device;
  private Path runDirectory = DEFAULT_RUN_DIRECTORY;
  private boolean resume;
  private int checkpointEveryEpochs = 1;
  private long checkpointEverySteps;
  private List<String> trackers = DEFAULT_TRACKERS;
  private boolean help;
  private boolean verbose;

  private TrainingOptions() {}

  /** The defaults, as if no flag were given. */
  public static TrainingOptions defaults() {
    return new TrainingOptions();
  }

  /**
   * Parses {@code args}.
   *
   * @throws UsageException naming the flag at fault and what it accepts
   */
  public static TrainingOptions parse(String... args) throws UsageException {
    TrainingOptions o = new TrainingOptions();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      String name = arg;
      String value = null;
      int eq = arg.indexOf('=');
      if (arg.startsWith("--") && eq > 0) {
        name = arg.substring(0, eq);
        value = arg.substring(eq + 1);
      }
      switch (name) {
        case "--help", "-h" -> o.help = true;
        case "--verbose", "-v" -> o.verbose = true;
        case "--resume" -> o.resume = true;
        default -> {
          if (!isValueFlag(name)) {
            throw new UsageException(
                "unknown option '" + arg + "' — run with --help to see the options");
          }
          if (value == null) {
            if (i + 1 >= args.length) {
              throw new UsageException(name + " needs a value — e.g. " + example(name));
            }
            value = args[++i];
          }
          o.set(name, value);
        }
      }
    }
    return o;
  }

  private static boolean isValueFlag(String name) {
    return VALUE_FLAGS.contains(name);
  }

  private static final List<String> VALUE_FLAGS =
      List.of(
          "--data",
          "--epochs",
          "--limit",
          "--test-limit",
          "--batch-size",
          "--test-batch-size",
          "--lr",
          "--gamma",
          "--workers",
          "--seed",
          "--device",
          "--run-dir",
          "--checkpoint-every",
          "--checkpoint-every-steps",
          "--trackers",
          "--mirror",
          "--data-archive");

  private void set(String name, String value) throws UsageException {
    switch (name) {
      case "--data" -> data = path(name, value);
      case "--data-archive" -> dataArchive = path(name, value);
      case "--mirror" -> mirror = path(name, value);
      case "--epochs" -> epochs = intAtLeast(name, value, 1);
      case "--limit" -> limit = intAtLeast(name, value, 1);
      case "--test-limit" -> testLimit = intAtLeast(name, value, 1);
      case "--batch-size" -> batchSize = intAtLeast(name, value, 1);
      case "--test-batch-size" -> testBatchSize = intAtLeast(name, value, 1);
      case "--lr" -> learningRate = doubleAtLeast(name, value, 0, true);
      case "--gamma" -> gamma = doubleAtLeast(name, value, 0, false);
      case "--workers" -> workers = intAtLeast(name, value, 0);
      case "--seed" -> seed = parseLong(name, value);
      case "--device" -> device = nonBlank(name, value);
      case "--run-dir" -> runDirectory = path(name, value);
      case "--checkpoint-every" -> checkpointEveryEpochs = intAtLeast(name, value, 0);
      case "--checkpoint-every-steps" -> checkpointEverySteps = intAtLeast(name, value, 0);
      case "--trackers" -> trackers = trackerList(value);
      default -> throw new AssertionError(name);
    }
  }

  private static String example(String name) {
    return switch (name) {
      case "--data" -> "--data /usr/share/datasets/fashion-mnist";
      case "--device" -> "--device cpu";
      case "--run-dir" -> "--run-dir runs/mnist";
      case "--trackers" -> "--trackers " + String.join(",", DEFAULT_TRACKERS);
      case "--lr", "--gamma" -> name + " 0.5";
      default -> name + " 3";
    };
  }

  private static Path path(String name, String value) throws UsageException {
    nonBlank(name, value);
    try {
      return Path.of(value);
    } catch (InvalidPathException e) {
      throw new UsageException(name + " '" + value + "' is not a valid path: " + e.getReason());
    }
  }

  private static String nonBlank(String name, String value) throws UsageException {
    if (value.isBlank()) {
      throw new UsageException(name + " must not be empty — e.g. " + example(name));
    }
    return value.trim();
  }

  private static int intAtLeast(String name, String value, int min) throws UsageException {
    long v = parseLong(name, value);
    if (v < min || v > Integer.MAX_VALUE) {
      throw new UsageException(
          name
              + " must be a whole number >= "
              + min
              + ", not "
              + value
              + " — e.g. "
              + example(name));
    }
    return (int) v;
  }

  private static long parseLong(String name, String value) throws UsageException {
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      throw new UsageException(
          name + " must be a whole number, not '" + value + "' — e.g. " + example(name));
    }
  }

  private static double doubleAtLeast(String name, String value, double min, boolean inclusive)
      throws UsageException {
    double v;
    try {
      v = Double.parseDouble(value.trim());
    } catch (NumberFormatException e) {
      throw new UsageException(
          name + " must be a number, not '" + value + "' — e.g. " + example(name));
    }
    if (!Double.isFinite(v) || (inclusive ? v < min : v <= min)) {
      throw new UsageException(
          name
              + " must be a finite number "
              + (inclusive ? ">= " : "> ")
              + fmt(min)
              + ", not "
              + value
              + " — e.g. "
              + example(name));
    }
    return v;
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }

  private static List<String> trackerList(String value) throws UsageException {
    List<String> names = new ArrayList<>();
    for (String part : value.split(",", -1)) {
      String name = part.trim().toLowerCase(Locale.ROOT);
      if (name.isEmpty()) {
        if (value.isBlank()) {
          break; // --trackers "" turns every tracker off
        }
        throw new UsageException(
            "--trackers '"
                + value
                + "' has an empty name — separate names by single commas, e.g. "
                + example("--trackers"));
      }
      if (!names.contains(name)) {
        names.add(name);
      }
    }
    return List.copyOf(names);
  }

  /** The text {@code --help} prints. */
  public static String usage() {
    return String.join(
        "\n",
        "Usage: java -jar kiln-examples.jar [options]",
        "",
        "Trains the course notes' CNN on Fashion-MNIST (or MNIST) with Kiln: Adadelta, StepLR,",
        "checkpoints that survive preemption, and experiment trackers.",
        "",
        "Data:",
        "  --data DIR                 directory with the four IDX files (default: $KILN_DATA, else",
        "                             /usr/share/datasets/fashion-mnist, else a download into",
        "                             ~/.cache/kiln/fashion-mnist)",
        "  --data-archive FILE        a .zip/.tar/.tar.gz of the IDX files (e.g. on a mounted"
            + " drive):",
        "                             unpacked once to --data, else ~/.cache/kiln/datasets/NAME,",
        "                             verified, and reused while intact",
        "  --limit N                  train on the first N training images (default: all 60,000)",
        "  --test-limit N             test on the first N test images (default: all 10,000)",
        "Training:",
        "  --epochs N                 epochs (default 14)",
        "  --batch-size N             training batch size (default 64)",
        "  --test-batch-size N        test batch size (default 1000)",
        "  --lr X                     Adadelta learning rate (default 1.0)",
        "  --gamma X                  learning-rate decay per epoch, StepLR (default 0.7)",
        "  --seed N                   seed for initialization, data order and dropout (default 1)",
        "  --workers N                background threads preparing batches (default 1)",
        "  --device SPEC              auto, cpu, gpu(0), gpu(0),gpu(1) or gpu:N (default: auto)",
        "Run:",
        "  --run-dir DIR              where metrics, checkpoints and logs go (default runs/mnist)",
        "  --resume                   continue from the newest valid checkpoint in --run-dir",
        "                             (or --mirror, whichever is newer)",
        "  --mirror DIR               copy checkpoints and logs to DIR/<run name> in the"
            + " background",
        "                             (a mounted drive that outlives this machine)",
        "  --checkpoint-every N       checkpoint every N epochs, 0 = only at the end (default 1)",
        "  --checkpoint-every-steps N also checkpoint every N steps, mid-epoch (default 0 = off)",
        "  --trackers LIST            comma-separated: console, jsonl, tensorboard, wandb, or any",
        "                             plugin on the class path (default console,jsonl,tensorboard)",
        "  --verbose                  stack traces on errors",
        "  --help                     this text",
        "",
        "Exit status: 0 finished, or stopped by SIGTERM/SIGINT after a checkpoint (run again with",
        "--resume to continue); 1 training failed; 2 bad command line, data or run directory.",
        "");
  }

  /** The data directory given with {@code --data}, if any. */
  public Optional<Path> data() {
    return Optional.ofNullable(data);
  }

  /** The archive given with {@code --data-archive}, if any. */
  public Optional<Path> dataArchive() {
    return Optional.ofNullable(dataArchive);
  }

  /** The mirror root given with {@code --mirror}, if any. */
  public Optional<Path> mirror() {
    return Optional.ofNullable(mirror);
  }

  public int epochs() {
    return epochs;
  }

  /** The number of training images to use; 0 means all. */
  public int limit() {
    return limit;
  }

  /** The number of test images to use; 0 means all. */
  public int testLimit() {
    return testLimit;
  }

  public int batchSize() {
    return batchSize;
  }

  public int testBatchSize() {
    return testBatchSize;
  }

  public double learningRate() {
    return learningRate;
  }

  public double gamma() {
    return gamma;
  }

  public int workers() {
    return workers;
  }

  public long seed() {
    return seed;
  }

  /** The device spec given with {@code --device}, if any. */
  public Optional<String> device() {
    return Optional.ofNullable(device);
  }

  public Path runDirectory() {
    return runDirectory;
  }

  public boolean resume() {
    return resume;
  }

  public int checkpointEveryEpochs() {
    return checkpointEveryEpochs;
  }

  public long checkpointEverySteps() {
    return checkpointEverySteps;
  }

  public List<String> trackers() {
    return trackers;
  }

  public boolean help() {
    return help;
  }

  public boolean verbose() {
    return verbose;
  }

  @Override
  public String toString() {
    return "TrainingOptions"
        + Arrays.asList(
            "data=" + data,
            "dataArchive=" + dataArchive,
            "mirror=" + mirror,
            "epochs=" + epochs,
            "limit=" + limit,
            "testLimit=" + testLimit,
            "batchSize=" + batchSize,
            "testBatchSize=" + testBatchSize,
            "lr=" + learningRate,
            "gamma=" + gamma,
            "workers=" + workers,
            "seed=" + seed,
            "device=" + device,
            "runDirectory=" + runDirectory,
            "resume=" + resume,
            "checkpointEvery=" + checkpointEveryEpochs,
            "checkpointEverySteps=" + checkpointEverySteps,
            "trackers=" + trackers);
  }
}

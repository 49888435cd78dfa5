package dev.kiln.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.kiln.checkpoint.Checkpoint;
import dev.kiln.checkpoint.CheckpointRequest;
import dev.kiln.checkpoint.CheckpointStore;
import dev.kiln.checkpoint.Retention;
import dev.kiln.checkpoint.TensorFile;
import dev.kiln.checkpoint.Verification;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Save and load time of {@link CheckpointStore} with {@link TensorFile} for the seed CNN's full
 * state as Kiln's trainer saves it (its 1.2M weights in {@code model.ndlist}, Adadelta's two arrays
 * per weight in {@code optimizer.ndlist}: 14.4 MB), for its weights alone (4.8 MB) and for a 1 GiB
 * state (8 tensors of 128 MiB), next to plain Java I/O of the same bytes in the same run:
 *
 * <ul>
 *   <li>save: Kiln = NDArrays to files, fsync, SHA-256 and part CRC32Cs, manifest, atomic rename,
 *       directory fsync, prune the previous checkpoint; raw = write the same bytes (already in
 *       {@code byte[]}s) in 1 MiB slices to one new file through one {@link FileChannel} and {@code
 *       force(true)}. Like the store, the raw side keeps its previous file until the new one is
 *       written and deletes it afterwards, outside the timing.
 * </ul>
 *
 * <p>Each side's saves run as a block (raw first), each after a {@code sync} and a pause ({@link
 * #settle}). On the VM this was measured on, writing 1 GiB into page cache that a delete had just
 * freed took 0.3 s, and into memory not recently used (or within a second of a large delete) 1 to
 * 4.5 s, whichever side wrote. Interleaved saves handed the fast memory to whichever side deleted
 * last, which decided the ratio (46% one way, 205% the other); in blocks, each side reuses what its
 * own previous delete freed. For the seed CNN's states, far smaller than the page cache, the sides
 * then also alternate save by save (printed as "alternating"), so that both see the same machine
 * whatever drifts in it between the blocks.
 *
 * <p>These timed saves follow untimed ones, as in any benchmark harness: at least 1 GB a side, and
 * {@link #WARMUP_SAVES} a side for the seed CNN's states, whose store code runs once per save and
 * is compiled by the JIT only after a hundred-odd saves. Before those, the process's first saves
 * (of the first state measured) alternate too, and are printed as "first saves": what a training
 * run's first hundred-odd checkpoints see (one every few minutes is a day's worth).
 *
 * <ul>
 *   <li>load: Kiln = {@code latestValid(reader)} with {@code TensorFile.readInto} the arrays of the
 *       state (as a resume into a built model does): every byte checked against the part CRC32Cs
 *       (the store's default {@link Verification}); raw = read the same bytes into {@code byte[]}s.
 *       Both from the page cache. Also printed: the same load with {@link Verification#SHA256}, and
 *       {@code latestValid()} then {@code TensorFile.read} into new arrays (verify first, then
 *       read; new tensor memory pays its page faults).
 *   <li>cold load (Linux, with GNU {@code dd}): both loads again after evicting the files from the
 *       page cache ({@code dd iflag=nocache count=0}, which leaves the program's own code cached),
 *       as on a new machine after a preemption.
 * </ul>
 *
 * Loads alternate, in alternating order, as a resume would load: not while a save's background work
 * still runs. The median and the best of each are printed (the best is steadier on a shared disk).
 * Usage (from the repository root, after {@code mvn -B -q -o -pl checkpoint install -DskipTests &&
 * mvn -B -q -o -pl bench package -DskipTests}):
 *
 * <pre>
 * java -Dai.djl.offline=true -Xmx3g -cp "bench/target/classes:bench/target/lib/*" \
 *     dev.kiln.bench.CheckpointBenchmark [directory] [small|large|all]
 * </pre>
 */
public final class CheckpointBenchmark {

  private static final int CHUNK = 1 << 20;

  /**
   * Saves and loads per side for the seed CNN's states ({@code -Dreps}; default 31). A 14 MB save
   * on a shared VM varies by a few milliseconds from one to the next, as much as the difference
   * measured: fewer than about 30 left the median ratio moving by 10 points between runs.
   */
  private static final int SMALL_REPS = Integer.getInteger("reps", 31);

  /**
   * Untimed saves a side of a small state before the timed ones ({@code -Dwarmup}; default 300).
   * Its store's code runs once per save: here the JIT had compiled it after 150 to 200 saves, which
   * then took about 16 ms instead of 22.
   */
  private static final int WARMUP_SAVES = Integer.getInteger("warmup", 300);

  /** Whether no state has been measured yet in this process: only then are its saves its first. */
  private static boolean firstRun = true;

  private CheckpointBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path root = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("kiln-ckpt-bench");
    String which = args.length > 1 ? args[1] : "all";
    System.out.printf(
        "CheckpointBenchmark in %s (java %s, %d CPUs)%n",
        root, System.getProperty("java.version"), Runtime.getRuntime().availableProcessors());
    System.out.printf(
        "%-22s %10s | %10s %10s %7s | %10s %10s %7s%n",
        "state", "MB", "kiln save", "raw save", "ratio", "kiln load", "raw load", "ratio");
    try (NDManager manager = NDManager.newBaseManager()) {
      if (!which.equals("large")) {
        Map<String, long[]> cnn = new LinkedHashMap<>();
        cnn.put("conv1.weight", new long[] {32, 1, 3, 3});
        cnn.put("conv1.bias", new long[] {32});
        cnn.put("conv2.weight", new long[] {64, 32, 3, 3});
        cnn.put("conv2.bias", new long[] {64});
        cnn.put("fc1.weight", new long[] {128, 9216});
        cnn.put("fc1.bias", new long[] {128});
        cnn.put("fc2.weight", new long[] {10, 128});
        cnn.put("fc2.bias", new long[] {10});
        // Adadelta keeps two arrays per parameter, as Kiln's trainer saves them.
        Map<String, long[]> adadelta = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : cnn.entrySet()) {
          adadelta.put(e.getKey() + ".square_avg", e.getValue());
          adadelta.put(e.getKey() + ".acc_delta", e.getValue());
        }
        Map<String, Map<String, long[]>> full = new LinkedHashMap<>();
        full.put("optimizer.ndlist", adadelta); // in the trainer's order: the larger file first
        full.put("model.ndlist", cnn);
        run("seed CNN, full state", full, SMALL_REPS, root.resolve("small"), manager);
        run(
            "seed CNN, weights",
            Map.of("model.ndlist", cnn),
            SMALL_REPS,
            root.resolve("weights"),
            manager);
      }
      if (!which.equals("small")) {
        Map<String, long[]> big = new LinkedHashMap<>();
        for (int i = 0; i < 8; i++) {
          big.put("layer" + i + ".weight", new long[] {8192, 4096}); // 128 MiB of float32
        }
        run("1 GiB (8 x 128 MiB)", Map.of("model.ndlist", big), 7, root.resolve("large"), manager);
      }
    }
  }

  private static void run(
      String label, Map<String, Map<String, long[]>> files, int reps, Path dir, NDManager manager)
      throws IOException {
    Random random = new Random(42);
    Map<String, Map<String, NDArray>> tensors = new LinkedHashMap<>();
    List<byte[]> raw = new ArrayList<>();
    long bytes = 0;
    for (Map.Entry<String, Map<String, long[]>> file : files.entrySet()) {
      Map<String, NDArray> arrays = new LinkedHashMap<>();
      for (Map.Entry<String, long[]> e : file.getValue().entrySet()) {
        Shape shape = new Shape(e.getValue());
        byte[] data = new byte[Math.toIntExact(shape.size() * 4)];
        random.nextBytes(data);
        raw.add(data);
        ByteBuffer buffer = ByteBuffer.allocateDirect(data.length).order(ByteOrder.nativeOrder());
        buffer.put(data).flip();
        arrays.put(e.getKey(), manager.create(buffer, shape, DataType.FLOAT32));
        bytes += data.length;
      }
      tensors.put(file.getKey(), arrays);
    }
    // Start empty: a checkpoint left by an earlier run with the same step would sort as newer
    // (".1") and be the one loaded.
    deleteRecursively(dir);
    // Deleting an earlier run's gigabytes queues work (online discard) that the next fsyncs would
    // pay for: flush it before timing anything.
    syncFileSystems();
    Files.createDirectories(dir);
    Path rawDir = Files.createDirectories(dir.resolve("raw"));
    CheckpointStore store =
        CheckpointStore.builder(dir.resolve("kiln"))
            .retention(Retention.builder().keepLast(1).build())
            .build();
    CheckpointStore sha256Store = store.toBuilder().verification(Verification.SHA256).build();
    double[] kilnSave = new double[reps];
    double[] rawSave = new double[reps];
    double[] kilnLoad = new double[reps];
    double[] rawLoad = new double[reps];
    double[] shaLoad = new double[reps];
    double[] freshLoad = new double[reps];
    double[] kilnCold = new double[reps];
    double[] rawCold = new double[reps];
    boolean cold = canEvict(rawDir.resolve("probe"));
    boolean interleave = bytes < (256L << 20);
    Path warmup = rawDir.resolve("warmup.bin");
    // Two untimed rounds: classes load, and each side pays its first save's one-time costs.
    for (int round = 0; round < 2; round++) {
      Files.deleteIfExists(warmup);
      saveRaw(warmup, raw);
      saveKiln(store, 0, tensors);
    }
    // A small state's first saves in a process, alternating as below: the store's own code runs
    // once per save, so the JIT compiles it only after a hundred-odd saves, and compiling it takes
    // the cores meanwhile. (For a large state the bytes dominate from the first save.)
    AtomicInteger step = new AtomicInteger(1);
    boolean early = interleave && firstRun;
    firstRun = false;
    double[] earlyKiln = new double[early ? reps : 0];
    double[] earlyRaw = new double[early ? reps : 0];
    Path earlyFile =
        alternate(store, step, tensors, raw, bytes, rawDir, "early-", warmup, earlyKiln, earlyRaw);
    // Untimed rounds until the JIT has compiled both paths, as a benchmark harness would: at least
    // 1 GB of saves, and WARMUP_SAVES saves of a small state.
    Files.deleteIfExists(earlyFile);
    int warmupSaves = 0;
    for (long done = 0;
        warmupSaves < (interleave ? WARMUP_SAVES : 1) || done < (1L << 30);
        done += bytes, warmupSaves++) {
      Files.deleteIfExists(warmup);
      saveRaw(warmup, raw);
      saveKiln(store, step.getAndIncrement(), tensors);
    }
    for (long done = 0; done == 0 || done < (1L << 30); done += bytes) {
      loadKiln(store, tensors);
      loadKiln(sha256Store, tensors);
      loadFresh(store, manager);
      loadRaw(warmup, raw);
    }
    Path rawFile = null;
    // Each side's saves run as a block, after one untimed save of its own, each save deleting the
    // side's previous state after it (the store prunes its previous checkpoint itself): so each
    // side writes into the page cache its own previous delete freed. See the class comment.
    for (int i = 0; i < reps; i++) {
      rawFile = rawDir.resolve("state-" + i + ".bin");
      Path previous = rawDir.resolve(i == 0 ? "warmup.bin" : "state-" + (i - 1) + ".bin");
      settle(bytes);
      long t0 = System.nanoTime();
      saveRaw(rawFile, raw);
      rawSave[i] = (System.nanoTime() - t0) / 1e9;
      Files.delete(previous); // outside the timing, as the store deletes in the background
    }
    saveKiln(store, step.getAndIncrement(), tensors);
    for (int i = 0; i < reps; i++) {
      settle(bytes);
      long t1 = System.nanoTime();
      saveKiln(store, step.getAndIncrement(), tensors);
      kilnSave[i] = (System.nanoTime() - t1) / 1e9;
    }
    // For states far smaller than the page cache the blocks' reason does not apply: then the two
    // sides also alternate, save by save (which goes first alternating too), so that both see the
    // same machine, whatever drifts in it between the blocks (the JIT, other tenants).
    double[] pairedKiln = new double[interleave ? reps : 0];
    double[] pairedRaw = new double[interleave ? reps : 0];
    rawFile =
        alternate(
            store, step, tensors, raw, bytes, rawDir, "state-p", rawFile, pairedKiln, pairedRaw);
    // Loads as a resume does them: not right after a save, whose background work (fsync,
    // deleting the pruned checkpoint) would still be running. Alternating which goes first.
    for (int i = 0; i < reps; i++) {
      for (int k = 0; k < 2; k++) {
        long start = System.nanoTime();
        if ((i + k) % 2 == 0) {
          loadKiln(store, tensors);
          kilnLoad[i] = (System.nanoTime() - start) / 1e9;
        } else {
          loadRaw(rawFile, raw);
          rawLoad[i] = (System.nanoTime() - start) / 1e9;
        }
      }
      long s0 = System.nanoTime();
      loadKiln(sha256Store, tensors);
      shaLoad[i] = (System.nanoTime() - s0) / 1e9;
      long f0 = System.nanoTime();
      loadFresh(store, manager);
      freshLoad[i] = (System.nanoTime() - f0) / 1e9;
    }
    if (cold) {
      // As after a restart on a new machine: nothing of the state is in the page cache.
      Checkpoint latest = store.list().get(store.list().size() - 1);
      List<Path> kilnFiles = new ArrayList<>();
      for (String name : latest.files().keySet()) {
        kilnFiles.add(latest.file(name));
      }
      kilnFiles.add(latest.directory().resolve("manifest.json"));
      for (int i = 0; i < reps; i++) {
        for (int k = 0; k < 2; k++) {
          if ((i + k) % 2 == 0) {
            evict(kilnFiles);
            long c0 = System.nanoTime();
            loadKiln(store, tensors);
            kilnCold[i] = (System.nanoTime() - c0) / 1e9;
          } else {
            evict(List.of(rawFile));
            long c1 = System.nanoTime();
            loadRaw(rawFile, raw);
            rawCold[i] = (System.nanoTime() - c1) / 1e9;
          }
        }
      }
    }
    if (rawFile != null) {
      Files.deleteIfExists(rawFile);
    }
    double mb = bytes / 1e6;
    double ks = median(kilnSave);
    double rs = median(rawSave);
    double kl = median(kilnLoad);
    double rl = median(rawLoad);
    System.out.printf(
        "%-22s %10.1f | %8.3f s %8.3f s %6.0f%% | %8.3f s %8.3f s %6.0f%%%n",
        label, mb, ks, rs, 100 * rs / ks, kl, rl, 100 * rl / kl);
    System.out.printf(
        "%-22s %10s | %6.0f MB/s %6.0f MB/s %7s | %6.0f MB/s %6.0f MB/s%n",
        "", "rates", mb / ks, mb / rs, "", mb / kl, mb / rl);
    double ksBest = Arrays.stream(kilnSave).min().orElseThrow();
    double rsBest = Arrays.stream(rawSave).min().orElseThrow();
    double klBest = Arrays.stream(kilnLoad).min().orElseThrow();
    double rlBest = Arrays.stream(rawLoad).min().orElseThrow();
    System.out.printf(
        "%-22s %10s | %8.3f s %8.3f s %6.0f%% | %8.3f s %8.3f s %6.0f%%  (best of %d)%n",
        "",
        "best",
        ksBest,
        rsBest,
        100 * rsBest / ksBest,
        klBest,
        rlBest,
        100 * rlBest / klBest,
        reps);
    if (interleave) {
      System.out.printf(
          "%-21s %11s | %8.3f s %8.3f s %6.0f%% | saves alternating one by one (median of the"
              + " %d pairs' ratios: %.0f%%)%n",
          "",
          "alternating",
          median(pairedKiln),
          median(pairedRaw),
          100 * median(pairedRaw) / median(pairedKiln),
          reps,
          100 * medianRatio(pairedRaw, pairedKiln));
    }
    if (early) {
      System.out.printf(
          "%-21s %11s | %8.3f s %8.3f s %6.0f%% | the process's first saves, alternating, before"
              + " the JIT has compiled the store (median of the pairs' ratios: %.0f%%); the rows"
              + " above follow %d more saves a side%n",
          "",
          "first saves",
          median(earlyKiln),
          median(earlyRaw),
          100 * median(earlyRaw) / median(earlyKiln),
          100 * medianRatio(earlyRaw, earlyKiln),
          warmupSaves);
    }
    System.out.printf(
        "%-22s %10s | load with Verification.SHA256: %.3f s median (%.0f%% of raw)%n",
        "", "", median(shaLoad), 100 * rl / median(shaLoad));
    System.out.printf(
        "%-22s %10s | verify, then read into new arrays: %.3f s median (%.0f%% of raw)%n",
        "", "", median(freshLoad), 100 * rl / median(freshLoad));
    if (cold) {
      System.out.printf(
          "%-22s %10s | cold page cache: kiln load %.3f s, raw load %.3f s, %.0f%% (median)%n",
          "", "", median(kilnCold), median(rawCold), 100 * median(rawCold) / median(kilnCold));
    } else {
      System.out.printf(
          "%-22s %10s | cold page cache: not measured (needs Linux and GNU dd)%n", "", "");
    }
    System.out.printf(
        "%-22s %10s | save runs kiln %s raw %s%n",
        "", "", Arrays.toString(round(kilnSave)), Arrays.toString(round(rawSave)));
    System.out.printf(
        "%-22s %10s | load runs kiln %s raw %s%n",
        "", "", Arrays.toString(round(kilnLoad)), Arrays.toString(round(rawLoad)));
    for (Map<String, NDArray> arrays : tensors.values()) {
      arrays.values().forEach(NDArray::close);
    }
  }

  /**
   * Alternates {@code kilnTimes.length} pairs of saves, Kiln's and raw, which goes first
   * alternating too, each after {@link #settle}. Each raw save writes a new file ({@code prefix}
   * and its index) and deletes the previous one, starting with {@code rawFile}, outside the timing;
   * returns the last.
   */
  private static Path alternate(
      CheckpointStore store,
      AtomicInteger step,
      Map<String, Map<String, NDArray>> tensors,
      List<byte[]> raw,
      long bytes,
      Path rawDir,
      String prefix,
      Path rawFile,
      double[] kilnTimes,
      double[] rawTimes)
      throws IOException {
    for (int i = 0; i < kilnTimes.length; i++) {
      for (int k = 0; k < 2; k++) {
        settle(bytes);
        if ((i + k) % 2 == 0) {
          long t0 = System.nanoTime();
          saveKiln(store, step.getAndIncrement(), tensors);
          kilnTimes[i] = (System.nanoTime() - t0) / 1e9;
        } else {
          Path previous = rawFile;
          rawFile = rawDir.resolve(prefix + i + ".bin");
          long t0 = System.nanoTime();
          saveRaw(rawFile, raw);
          rawTimes[i] = (System.nanoTime() - t0) / 1e9;
          Files.delete(previous); // outside the timing, as the store deletes in the background
        }
      }
    }
    return rawFile;
  }

  private static void saveKiln(
      CheckpointStore store, int step, Map<String, Map<String, NDArray>> tensors) {
    store.save(
        CheckpointRequest.of(0, step),
        d -> {
          for (Map.Entry<String, Map<String, NDArray>> file : tensors.entrySet()) {
            TensorFile.write(d.resolve(file.getKey()), file.getValue());
          }
        });
  }

  private static void loadKiln(CheckpointStore store, Map<String, Map<String, NDArray>> targets) {
    store
        .latestValid(
            c -> {
              for (Map.Entry<String, Map<String, NDArray>> file : targets.entrySet()) {
                TensorFile.readInto(c.file(file.getKey()), file.getValue());
              }
              return c;
            })
        .orElseThrow();
  }

  private static void loadFresh(CheckpointStore store, NDManager manager) throws IOException {
    Checkpoint latest = store.latestValid().orElseThrow();
    try (NDManager scope = manager.newSubManager()) {
      for (String file : latest.files().keySet()) {
        if (TensorFile.read(latest.file(file), scope).isEmpty()) {
          throw new IllegalStateException("nothing loaded from " + file);
        }
      }
    }
  }

  private static void saveRaw(Path file, List<byte[]> raw) throws IOException {
    try (FileChannel channel =
        FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      for (byte[] data : raw) {
        // 1 MiB slices: the JDK copies heap buffers through a temporary direct buffer of the
        // slice's size.
        for (int offset = 0; offset < data.length; offset += CHUNK) {
          ByteBuffer buffer = ByteBuffer.wrap(data, offset, Math.min(CHUNK, data.length - offset));
          while (buffer.hasRemaining()) {
            channel.write(buffer);
          }
        }
      }
      channel.force(true);
    }
  }

  private static void loadRaw(Path file, List<byte[]> raw) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      for (byte[] expected : raw) {
        byte[] data = new byte[expected.length];
        for (int offset = 0; offset < data.length; offset += CHUNK) {
          ByteBuffer buffer = ByteBuffer.wrap(data, offset, Math.min(CHUNK, data.length - offset));
          while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
            // keep reading
          }
        }
      }
    }
  }

  /**
   * Lets the system finish what the previous save and delete left it, so that each save starts on a
   * quiet machine, as saves minutes apart in training do; neither side's timing includes it. On the
   * VM this was measured on, a write within about a second after a 1 GiB delete ran up to 5x
   * slower.
   */
  private static void settle(long bytes) {
    syncFileSystems();
    try {
      Thread.sleep(bytes >= (256L << 20) ? 2000 : 100);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Runs {@code sync} (Unix) and waits for it; does nothing where there is none. */
  private static void syncFileSystems() {
    try {
      Process sync = new ProcessBuilder("sync").redirectErrorStream(true).start();
      sync.getInputStream().readAllBytes();
      sync.waitFor();
    } catch (IOException e) {
      // no sync command: nothing to flush this way
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void deleteRecursively(Path path) throws IOException {
    if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (java.util.stream.Stream<Path> walk = Files.walk(path)) {
      for (Path p : (Iterable<Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
        Files.delete(p);
      }
    }
  }

  /** Whether {@link #evict} works here (Linux with GNU dd). */
  private static boolean canEvict(Path probe) {
    try {
      Files.write(probe, new byte[4096]);
      evict(List.of(probe));
      return true;
    } catch (IOException e) {
      return false;
    } finally {
      try {
        Files.deleteIfExists(probe);
      } catch (IOException e) {
        // a leftover probe file is harmless
      }
    }
  }

  /**
   * Drops {@code files} from the page cache ({@code posix_fadvise(DONTNEED)} through GNU dd), which
   * unlike {@code /proc/sys/vm/drop_caches} leaves the code of the JVM and PyTorch cached. The
   * files are fsynced, hence clean and evictable.
   */
  private static void evict(List<Path> files) throws IOException {
    for (Path file : files) {
      Process dd =
          new ProcessBuilder("dd", "if=" + file, "iflag=nocache", "count=0", "status=none")
              .redirectErrorStream(true)
              .start();
      try {
        if (dd.waitFor() != 0) {
          throw new IOException("dd failed: " + new String(dd.getInputStream().readAllBytes()));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
    }
  }

  /** The median over the pairs of {@code raw[i] / kiln[i]}. */
  private static double medianRatio(double[] raw, double[] kiln) {
    double[] ratios = new double[kiln.length];
    for (int i = 0; i < kiln.length; i++) {
      ratios[i] = raw[i] / kiln[i];
    }
    return median(ratios);
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  private static String[] round(double[] values) {
    return Arrays.stream(values).mapToObj(v -> String.format("%.3f", v)).toArray(String[]::new);
  }
}

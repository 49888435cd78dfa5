package dev.kiln.bench;

import dev.kiln.data.DatasetStaging;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Extraction time of {@link DatasetStaging} next to {@code tar -xzf} and {@code unzip -q} on the
 * same archives, in the same run, alternating between them so drift on a shared machine hits all
 * alike. The median of the rounds is printed.
 *
 * <p>The dataset is generated once: N files (default 20,000) in 100 directories, sizes 2-18 KB
 * (about 200 MB), each half random bytes (like JPEG/PNG payloads) and half repetitive text, packed
 * as .tar.gz by {@code tar -czf} and as .zip by {@link ZipOutputStream}. The archives are read from
 * the page cache by every contender (nothing here drops caches), so this measures the extraction
 * work itself, not a slow mount.
 *
 * <p>Staging also flushes every file to the device and writes its marker; tar and unzip do not
 * flush. The {@code tar -xzf; sync -f} row times tar followed by a file-system sync, the nearest
 * like-for-like. Targets are deleted between runs, outside the timings.
 *
 * <pre>
 * mvn -B -q -o -pl core install -DskipTests &amp;&amp; mvn -B -q -o -pl bench compile
 * java -cp bench/target/classes:$(mvn -q -o -pl bench dependency:build-classpath \
 *     -Dmdep.outputFile=/dev/stdout) dev.kiln.bench.StagingBenchmark [files] [rounds] [workDir]
 * </pre>
 */
public final class StagingBenchmark {

  private StagingBenchmark() {}

  public static void main(String[] args) throws Exception {
    int files = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    Path work = Path.of(args.length > 2 ? args[2] : "/tmp/kiln-staging-bench");
    delete(work);
    Files.createDirectories(work);

    Path source = work.resolve("source/dataset");
    long bytes = generate(source, files);
    Path tgz = work.resolve("dataset.tar.gz");
    Path zip = work.resolve("dataset.zip");
    run(work.resolve("source"), "tar", "-czf", tgz.toString(), "dataset");
    zip(source, zip);
    System.out.printf(
        Locale.ROOT,
        "dataset: %,d files, %.1f MB; tar.gz %.1f MB, zip %.1f MB; %d rounds; %d CPUs; java %s%n",
        files,
        bytes / 1e6,
        Files.size(tgz) / 1e6,
        Files.size(zip) / 1e6,
        rounds,
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"));

    Map<String, List<Double>> seconds = new LinkedHashMap<>();
    Path out = work.resolve("out");
    Files.createDirectories(out);
    double reuse = 0;
    for (int round = 0; round < rounds + 1; round++) {
      boolean warmup = round == 0;
      time(seconds, warmup, "DatasetStaging tar.gz", () -> stage(tgz, out.resolve("kiln-tgz")));
      delete(out.resolve("kiln-tgz"));
      time(seconds, warmup, "tar -xzf", () -> tar(tgz, out.resolve("tar"), false));
      delete(out.resolve("tar"));
      time(seconds, warmup, "tar -xzf; sync -f", () -> tar(tgz, out.resolve("tar-sync"), true));
      delete(out.resolve("tar-sync"));
      time(seconds, warmup, "unzip -q", () -> unzip(zip, out.resolve("unzip")));
      delete(out.resolve("unzip"));
      time(seconds, warmup, "DatasetStaging zip", () -> stage(zip, out.resolve("kiln-zip")));
      long start = System.nanoTime();
      DatasetStaging.Staged again =
          DatasetStaging.builder(zip, out.resolve("kiln-zip")).progress(null).build().stage();
      if (!again.reused()) {
        throw new IllegalStateException("second stage() did not reuse");
      }
      reuse = (System.nanoTime() - start) / 1e9;
      delete(out.resolve("kiln-zip"));
    }

    System.out.printf(
        Locale.ROOT,
        "%n| contender | median s | min s | archive MB/s | extracted MB/s | time vs tool |%n");
    System.out.printf(Locale.ROOT, "| --- | ---: | ---: | ---: | ---: | ---: |%n");
    for (Map.Entry<String, List<Double>> e : seconds.entrySet()) {
      String name = e.getKey();
      double s = median(e.getValue());
      long archiveBytes = Files.size(name.contains("zip") ? zip : tgz);
      String versus =
          name.startsWith("DatasetStaging")
              ? String.format(
                  Locale.ROOT,
                  "%.2fx",
                  s / median(seconds.get(name.endsWith("zip") ? "unzip -q" : "tar -xzf")))
              : "";
      System.out.printf(
          Locale.ROOT,
          "| %s | %.2f | %.2f | %.0f | %.0f | %s |%n",
          name,
          s,
          e.getValue().stream().mapToDouble(Double::doubleValue).min().orElse(s),
          archiveBytes / 1e6 / s,
          bytes / 1e6 / s,
          versus);
    }
    System.out.printf(
        Locale.ROOT,
        "%nDatasetStaging reuse (second stage() of the zip: marker + %,d file sizes checked): %.3f"
            + " s%n",
        files,
        reuse);
    System.out.printf(Locale.ROOT, "all runs (s): %s%n", seconds);
    delete(work);
  }

  interface Job {
    void run() throws Exception;
  }

  private static void time(Map<String, List<Double>> seconds, boolean warmup, String name, Job job)
      throws Exception {
    // Start every contender from the same state: no earlier output, nothing dirty in the page
    // cache.
    run(Path.of("/"), "sync");
    long start = System.nanoTime();
    job.run();
    double s = (System.nanoTime() - start) / 1e9;
    if (!warmup) {
      seconds.computeIfAbsent(name, k -> new ArrayList<>()).add(s);
    }
  }

  private static void stage(Path archive, Path target) throws IOException {
    DatasetStaging.Staged staged =
        DatasetStaging.builder(archive, target).progress(null).build().stage();
    if (staged.reused()) {
      throw new IllegalStateException("expected an extraction");
    }
  }

  private static void tar(Path archive, Path target, boolean sync) throws Exception {
    Files.createDirectories(target);
    run(target, "tar", "-xzf", archive.toString());
    if (sync) {
      run(target, "sync", "-f", target.toString());
    }
  }

  private static void unzip(Path archive, Path target) throws Exception {
    Files.createDirectories(target);
    run(target, "unzip", "-q", archive.toString());
  }

  private static void run(Path dir, String... command) throws Exception {
    Process p = new ProcessBuilder(command).directory(dir.toFile()).inheritIO().start();
    int rc = p.waitFor();
    if (rc != 0) {
      throw new IllegalStateException(String.join(" ", command) + " exited with " + rc);
    }
  }

  private static long generate(Path dir, int files) throws IOException {
    Random random = new Random(42);
    byte[] text = "the quick brown fox jumps over the lazy dog 0123456789\n".repeat(400).getBytes();
    long total = 0;
    for (int i = 0; i < files; i++) {
      Path d = dir.resolve(String.format(Locale.ROOT, "class-%03d", i % 100));
      Files.createDirectories(d);
      int size = 2_000 + random.nextInt(16_000);
      byte[] data = new byte[size];
      random.nextBytes(data);
      System.arraycopy(text, random.nextInt(1000), data, size / 2, size - size / 2);
      Files.write(d.resolve(String.format(Locale.ROOT, "img-%06d.bin", i)), data);
      total += size;
    }
    return total;
  }

  private static void zip(Path dir, Path zip) throws IOException {
    try (ZipOutputStream out =
        new ZipOutputStream(new BufferedOutputStream(Files.newOutputStream(zip), 1 << 16))) {
      List<Path> all = new ArrayList<>();
      try (var walk = Files.walk(dir)) {
        walk.filter(Files::isRegularFile).forEach(all::add);
      }
      Path[] sorted = all.toArray(new Path[0]);
      Arrays.sort(sorted);
      for (Path p : sorted) {
        out.putNextEntry(
            new ZipEntry("dataset/" + dir.relativize(p).toString().replace('\\', '/')));
        Files.copy(p, (OutputStream) out);
        out.closeEntry();
      }
    }
  }

  private static double median(List<Double> values) {
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(null);
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  private static void delete(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    Files.walkFileTree(
        root,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.delete(file);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
            Files.delete(dir);
            return FileVisitResult.CONTINUE;
          }
        });
  }
}

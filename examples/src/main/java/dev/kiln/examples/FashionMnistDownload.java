package dev.kiln.examples;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Downloads the four Fashion-MNIST files into a directory, checking each against its published MD5,
 * and skips files already there with the right checksum.
 *
 * <p>Each file is written to {@code <name>.part} and renamed into place only after its checksum
 * matched, so the directory never holds a partial or corrupt file under the real name.
 *
 * <pre>{@code
 * Path dir = FashionMnistDownload.builder().build().downloadTo(cacheDirectory);
 * }</pre>
 */
public final class FashionMnistDownload {

  /** Where the dataset's authors publish it, first, and their GitHub copy. */
  public static final List<URI> MIRRORS =
      List.of(
          URI.create("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
          URI.create(
              "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"));

  /** The four files and their MD5 as published by Zalando Research. */
  public static final Map<String, String> FILES = files();

  private static Map<String, String> files() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d");
    m.put("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe");
    m.put("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79");
    m.put("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310");
    return java.util.Collections.unmodifiableMap(m);
  }

  private final List<URI> mirrors;
  private final Map<String, String> files;
  private final HttpClient client;
  private final Duration timeout;
  private final PrintStream progress;
  private final boolean terminal;

  private FashionMnistDownload(Builder b) {
    mirrors = List.copyOf(b.mirrors);
    files = Map.copyOf(b.files);
    client =
        b.client != null
            ? b.client
            : HttpClient.newBuilder()
                .connectTimeout(b.timeout)
                .followRedirects(HttpClient.Redirect.NORMAL)
                .build();
    timeout = b.timeout;
    progress = b.progress;
    terminal = b.terminal;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The mirrors tried, in order. */
  public List<URI> mirrors() {
    return mirrors;
  }

  /**
   * Makes {@code directory} hold every file with its expected checksum, downloading what is missing
   * or wrong from the first mirror that serves it.
   *
   * @return {@code directory}
   * @throws IOException naming the file, the mirrors tried and what went wrong with each; files
   *     already verified stay in place
   */
  public Path downloadTo(Path directory) throws IOException {
    Files.createDirectories(directory);
    for (Map.Entry<String, String> f : orderedFiles()) {
      Path target = directory.resolve(f.getKey());
      if (Files.isRegularFile(target) && md5(target).equals(f.getValue())) {
        continue;
      }
      List<String> failures = new ArrayList<>();
      boolean done = false;
      for (URI mirror : mirrors) {
        URI uri = mirror.resolve(f.getKey());
        try {
          fetch(uri, target, f.getValue());
          done = true;
          break;
        } catch (IOException e) {
          failures.add(uri + ": " + describe(e));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("download of " + uri + " interrupted", e);
        }
      }
      if (!done) {
        throw new IOException(
            "cannot download " + f.getKey() + " (" + String.join("; ", failures) + ")");
      }
    }
    return directory;
  }

  private List<Map.Entry<String, String>> orderedFiles() {
    List<Map.Entry<String, String>> ordered = new ArrayList<>();
    for (String name : FILES.keySet()) {
      if (files.containsKey(name)) {
        ordered.add(Map.entry(name, files.get(name)));
      }
    }
    files.entrySet().stream()
        .filter(e -> !FILES.containsKey(e.getKey()))
        .sorted(Map.Entry.comparingByKey())
        .forEach(ordered::add);
    return ordered;
  }

  private void fetch(URI uri, Path target, String expectedMd5)
      throws IOException, InterruptedException {
    HttpRequest request = HttpRequest.newBuilder(uri).timeout(timeout).GET().build();
    HttpResponse<InputStream> response =
        client.send(request, HttpResponse.BodyHandlers.ofInputStream());
    Path part = target.resolveSibling(target.getFileName() + ".part");
    try (InputStream in = response.body()) {
      if (response.statusCode() != 200) {
        throw new IOException("HTTP " + response.statusCode());
      }
      long total = response.headers().firstValueAsLong("Content-Length").orElse(-1);
      MessageDigest md5 = newMd5();
      Bar bar = new Bar(target.getFileName().toString(), total);
      try (OutputStream out = Files.newOutputStream(part)) {
        byte[] buffer = new byte[64 * 1024];
        long done = 0;
        int n;
        while ((n = in.read(buffer)) >= 0) {
          out.write(buffer, 0, n);
          md5.update(buffer, 0, n);
          done += n;
          bar.update(done, false);
        }
        bar.update(done, true);
      }
      String actual = HexFormat.of().formatHex(md5.digest());
      if (!actual.equals(expectedMd5)) {
        throw new IOException(
            "checksum mismatch: MD5 "
                + actual
                + ", expected "
                + expectedMd5
                + " — the download was damaged or the mirror serves other files");
      }
      Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(part);
    }
  }

  private static String describe(IOException e) {
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
  }

  static String md5(Path file) throws IOException {
    MessageDigest md5 = newMd5();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buffer = new byte[64 * 1024];
      int n;
      while ((n = in.read(buffer)) >= 0) {
        md5.update(buffer, 0, n);
      }
    }
    return HexFormat.of().formatHex(md5.digest());
  }

  private static MessageDigest newMd5() {
    try {
      return MessageDigest.getInstance("MD5");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(
          "this JVM has no MD5, which every Java platform must have", e);
    }
  }

  /** A progress bar redrawn in place on a terminal, else a line at each quarter. */
  private final class Bar {
    private final String name;
    private final long total;
    private int lastQuarter = -1;
    private long lastDraw;

    Bar(String name, long total) {
      this.name = name;
      this.total = total;
    }

    void update(long done, boolean end) {
      if (progress == null) {
        return;
      }
      double mb = done / 1e6;
      if (terminal) {
        long now = System.nanoTime();
        if (!end && now - lastDraw < 100_000_000L) {
          return;
        }
        lastDraw = now;
        String text;
        if (total > 0) {
          int filled = (int) (30 * done / total);
          text =
              String.format(
                  Locale.ROOT,
                  "\rDownloading %s [%-30s] %.1f/%.1f MB",
                  name,
                  "=".repeat(filled),
                  mb,
                  total / 1e6);
        } else {
          text = String.format(Locale.ROOT, "\rDownloading %s %.1f MB", name, mb);
        }
        progress.print(text + (end ? "\n" : ""));
        progress.flush();
      } else {
        int quarter = total > 0 ? (int) (4 * done / total) : (end ? 4 : 0);
        if (quarter == lastQuarter || (quarter == 0 && !end)) {
          return;
        }
        lastQuarter = quarter;
        progress.println(
            String.format(
                Locale.ROOT,
                "Downloading %s: %.1f%s MB",
                name,
                mb,
                total > 0 ? String.format(Locale.ROOT, "/%.1f", total / 1e6) : ""));
      }
    }
  }

  /** Settings for {@link FashionMnistDownload}. */
  public static final class Builder {
    private List<URI> mirrors = MIRRORS;
    private Map<String, String> files = FILES;
    private HttpClient client;
    private Duration timeout = Duration.ofSeconds(60);
    private PrintStream progress;
    private boolean terminal;

    private Builder() {}

    /**
     * Mirrors to try in order, each the URI of the directory holding the files. Default {@link
     * #MIRRORS}.
     */
    public Builder mirrors(List<URI> mirrors) {
      if (mirrors.isEmpty()) {
        throw new IllegalArgumentException("mirrors must not be empty — give at least one URI");
      }
      this.mirrors = List.copyOf(mirrors);
      return this;
    }

    /** File names and their expected MD5 (lower-case hex). Default {@link #FILES}. */
    public Builder files(Map<String, String> files) {
      this.files = Map.copyOf(files);
      return this;
    }

    /** The HTTP client. Default: a new client following redirects. */
    public Builder client(HttpClient client) {
      this.client = Objects.requireNonNull(client, "client");
      return this;
    }

    /** Connect and request timeout. Default 60 s. */
    public Builder timeout(Duration timeout) {
      this.timeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /**
     * Where to draw progress, and whether it is a terminal (bar redrawn in place). Default: none.
     */
    public Builder progress(PrintStream progress, boolean terminal) {
      this.progress = Objects.requireNonNull(progress, "progress");
      this.terminal = terminal;
      return this;
    }

    public FashionMnistDownload build() {
      return new FashionMnistDownload(this);
    }
  }
}

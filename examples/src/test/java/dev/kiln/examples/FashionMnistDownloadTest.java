package dev.kiln.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The download path, against a loopback HTTP server serving small generated files. */
class FashionMnistDownloadTest {

  @TempDir Path temp;

  private HttpServer server;
  private final Map<String, byte[]> served = new ConcurrentHashMap<>();
  private final Map<String, String> expected = new LinkedHashMap<>();
  private final AtomicInteger requests = new AtomicInteger();
  private URI base;

  @BeforeEach
  void startServer() throws Exception {
    Random random = new Random(42);
    for (String name : FashionMnistDownload.FILES.keySet()) {
      byte[] content = new byte[100_000 + random.nextInt(1000)];
      random.nextBytes(content);
      served.put(name, content);
      expected.put(name, md5(content));
    }
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/fashion/",
        exchange -> {
          requests.incrementAndGet();
          String name = exchange.getRequestURI().getPath().substring("/fashion/".length());
          byte[] body = served.get(name);
          if (body == null) {
            exchange.sendResponseHeaders(404, -1);
          } else {
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
              out.write(body);
            }
          }
          exchange.close();
        });
    server.start();
    base = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/fashion/");
  }

  @AfterEach
  void stopServer() {
    server.stop(0);
  }

  private FashionMnistDownload download(PrintStream progress) {
    FashionMnistDownload.Builder b =
        FashionMnistDownload.builder().mirrors(List.of(base)).files(expected);
    if (progress != null) {
      b.progress(progress, false);
    }
    return b.build();
  }

  @Test
  void theFourFilesAreDownloadedVerifiedAndReportedWithProgress() throws Exception {
    ByteArrayOutputStream progress = new ByteArrayOutputStream();
    Path cache = temp.resolve("cache");

    Path dir = download(new PrintStream(progress, true, StandardCharsets.UTF_8)).downloadTo(cache);

    assertThat(dir).isEqualTo(cache);
    for (String name : expected.keySet()) {
      assertThat(Files.readAllBytes(cache.resolve(name))).isEqualTo(served.get(name));
    }
    try (var files = Files.list(cache)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrderElementsOf(expected.keySet());
    }
    assertThat(progress.toString(StandardCharsets.UTF_8))
        .contains("Downloading train-images-idx3-ubyte.gz: 0.1/0.1 MB")
        .contains("Downloading t10k-labels-idx1-ubyte.gz");
  }

  @Test
  void filesAlreadyCachedWithTheRightChecksumAreNotFetchedAgain() throws Exception {
    Path cache = temp.resolve("cache");
    download(null).downloadTo(cache);
    int before = requests.get();

    download(null).downloadTo(cache);

    assertThat(requests.get()).isEqualTo(before);
  }

  @Test
  void aChecksumMismatchFailsNamingTheFileAndLeavesNothingUnderItsName() throws Exception {
    served.put("t10k-images-idx3-ubyte.gz", "not the images".getBytes(StandardCharsets.US_ASCII));
    Path cache = temp.resolve("cache");

    assertThatThrownBy(() -> download(null).downloadTo(cache))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("cannot download t10k-images-idx3-ubyte.gz")
        .hasMessageContaining("checksum mismatch")
        .hasMessageContaining("expected " + expected.get("t10k-images-idx3-ubyte.gz"));

    assertThat(cache.resolve("t10k-images-idx3-ubyte.gz")).doesNotExist();
    assertThat(cache.resolve("t10k-images-idx3-ubyte.gz.part")).doesNotExist();
    // Files verified before the bad one stay.
    assertThat(cache.resolve("train-images-idx3-ubyte.gz")).exists();
  }

  @Test
  void aDamagedCachedFileIsDownloadedAgain() throws Exception {
    Path cache = temp.resolve("cache");
    download(null).downloadTo(cache);
    Files.write(cache.resolve("train-labels-idx1-ubyte.gz"), new byte[] {1, 2, 3});

    download(null).downloadTo(cache);

    assertThat(Files.readAllBytes(cache.resolve("train-labels-idx1-ubyte.gz")))
        .isEqualTo(served.get("train-labels-idx1-ubyte.gz"));
  }

  @Test
  void theNextMirrorIsTriedWhenOneFails() throws Exception {
    URI dead = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/missing/");
    Path cache = temp.resolve("cache");

    FashionMnistDownload.builder()
        .mirrors(List.of(dead, base))
        .files(expected)
        .build()
        .downloadTo(cache);

    assertThat(cache.resolve("train-images-idx3-ubyte.gz")).exists();
  }

  @Test
  void theLocatorDownloadsIntoTheCacheWhenNoDirectoryHasTheData() throws Exception {
    DataLocator locator =
        new DataLocator(temp.resolve("no-system-dir"), temp.resolve("cache"), download(null));

    Path dir = locator.locate(Optional.empty(), Optional.empty());

    assertThat(dir).isEqualTo(temp.resolve("cache"));
    assertThat(DataLocator.missingFiles(dir)).isEmpty();
  }

  @Test
  void whenTheDownloadFailsTooOneErrorListsEveryPlaceTriedAndHowToGetTheData() {
    served.clear();
    DataLocator locator =
        new DataLocator(temp.resolve("no-system-dir"), temp.resolve("cache"), download(null));

    assertThatThrownBy(() -> locator.locate(Optional.empty(), Optional.empty()))
        .isInstanceOf(UsageException.class)
        .hasMessageContaining("no Fashion-MNIST data found")
        .hasMessageContaining("--data (not given)")
        .hasMessageContaining("KILN_DATA (not set)")
        .hasMessageContaining(temp.resolve("no-system-dir") + " (no such directory)")
        .hasMessageContaining("a download into " + temp.resolve("cache"))
        .hasMessageContaining("HTTP 404")
        .hasMessageContaining("apt-get install dataset-fashion-mnist")
        .hasMessageContaining("--data DIR")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
  }

  private static String md5(byte[] content) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(content));
  }
}

package dev.kiln.examples;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Helpers shared by the tests that train on the real data. */
final class TestData {
  private static final ObjectMapper JSON = new ObjectMapper();

  private TestData() {}

  /** The Fashion-MNIST directory ($KILN_DATA or the Debian package's); skips the test if absent. */
  static Path fashionMnist() {
    String env = System.getenv(DataLocator.ENVIRONMENT_VARIABLE);
    Path dir = env != null && !env.isBlank() ? Path.of(env) : DataLocator.SYSTEM_DIRECTORY;
    assumeTrue(
        DataLocator.missingFiles(dir).isEmpty(),
        "Fashion-MNIST is not in " + dir + " (apt-get install dataset-fashion-mnist)");
    return dir;
  }

  /** The epoch records of a run's metrics.jsonl, in order. */
  static List<JsonNode> epochRecords(Path runDirectory) throws IOException {
    List<JsonNode> records = new ArrayList<>();
    for (String line : Files.readAllLines(runDirectory.resolve("metrics.jsonl"))) {
      if (!line.isBlank()) {
        JsonNode node = JSON.readTree(line);
        if ("epoch".equals(node.path("kind").asText())) {
          records.add(node);
        }
      }
    }
    return records;
  }

  /** Every file under {@code dir} with its size and modification time, to detect any change. */
  static Map<String, String> snapshot(Path dir) throws IOException {
    Map<String, String> m = new TreeMap<>();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        m.put(
            dir.relativize(p).toString(),
            Files.isDirectory(p)
                ? "dir"
                : Files.size(p)
                    + " bytes, modified "
                    + Files.getLastModifiedTime(p)
                    + ", md5 "
                    + FashionMnistDownload.md5(p));
      }
    }
    return m;
  }

  /** The result of one in-process run of the program. */
  record Run(int status, String out, String err) {}

  static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status =
        MnistTraining.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(
        status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}

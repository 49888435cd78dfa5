package dev.kiln.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resume, shown end to end: the program runs as a child JVM, is stopped during epoch 2 (SIGTERM,
 * which Kiln turns into a final checkpoint, or SIGKILL, which loses the steps after the last
 * checkpoint), is started again with {@code --resume}, and ends with exactly the metrics of an
 * uninterrupted run with the same seed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ResumeTest {

  /** 640 images in batches of 64: 10 steps per epoch; a checkpoint every 3 steps, mid-epoch too. */
  private static final int STEPS_PER_EPOCH = 10;

  private static final Pattern EPOCH_2_BATCH = Pattern.compile("Epoch 2/3: batch (\\d+)/10\\b.*");

  @TempDir static Path temp;

  private Path data;
  private List<JsonNode> uninterrupted;

  @BeforeAll
  void runWithoutInterruption() throws Exception {
    data = TestData.fashionMnist();
    Path runDir = temp.resolve("uninterrupted");
    Child child = Child.start(args(runDir));
    assertThat(child.finish()).as(child.describe()).isZero();
    uninterrupted = TestData.epochRecords(runDir);
    assertThat(uninterrupted).extracting(e -> e.get("epoch").asInt()).containsExactly(1, 2, 3);
  }

  @Test
  void aRunStoppedBySigtermDuringEpochTwoResumesToTheSameFinalTestLoss() throws Exception {
    Path runDir = temp.resolve("sigterm");
    Child first = Child.start(args(runDir));
    // SIGTERM. Through the process handle: Process.destroy() would also close our end of stdout.
    first.readUntil(EPOCH_2_BATCH, batch -> batch >= 2, ProcessHandle::destroy);

    assertThat(first.finish()).as(first.describe()).isZero();
    assertThat(first.output())
        .contains("Stopped at step")
        .contains("Resume with: java -jar kiln-examples.jar")
        .contains("--resume");
    long step = newestCheckpointStep(runDir);
    assertThat(step)
        .as("the final checkpoint is taken where SIGTERM stopped epoch 2, mid-epoch")
        .isGreaterThan(STEPS_PER_EPOCH)
        .isLessThan(2 * STEPS_PER_EPOCH);
    assertThat(TestData.epochRecords(runDir))
        .extracting(e -> e.get("epoch").asInt())
        .containsExactly(1);

    resumeAndCompare(runDir);
  }

  @Test
  void aRunKilledDuringEpochTwoResumesFromItsLastCheckpointToTheSameFinalTestLoss()
      throws Exception {
    Path runDir = temp.resolve("sigkill");
    Child first = Child.start(args(runDir));
    first.readUntil(EPOCH_2_BATCH, batch -> batch >= 5, ProcessHandle::destroyForcibly); // SIGKILL

    assertThat(first.finish()).as(first.describe()).isEqualTo(137);
    assertThat(first.output()).doesNotContain("Stopped at step").doesNotContain("Finished");
    assertThat(newestCheckpointStep(runDir))
        .isBetween((long) STEPS_PER_EPOCH, 2L * STEPS_PER_EPOCH);

    resumeAndCompare(runDir);
  }

  private void resumeAndCompare(Path runDir) throws Exception {
    Child resumed = Child.start(append(args(runDir), "--resume"));
    assertThat(resumed.finish()).as(resumed.describe()).isZero();
    assertThat(resumed.output()).contains("Resuming run").contains("Finished after step 30");

    List<JsonNode> epochs = TestData.epochRecords(runDir);
    assertThat(epochs).extracting(e -> e.get("epoch").asInt()).containsExactly(1, 2, 3);
    for (int i = 0; i < 3; i++) {
      JsonNode got = epochs.get(i);
      JsonNode want = uninterrupted.get(i);
      // Exact equality: the data order, dropout masks and initialization depend only on the seed,
      // epoch and step, and the checkpoint holds weights, optimizer state, schedule position and
      // the epoch's running loss bit for bit.
      for (String metric : List.of("test_loss", "test_acc", "train_loss", "lr")) {
        assertThat(got.get(metric).asDouble())
            .as("%s of epoch %d after resume vs uninterrupted", metric, i + 1)
            .isEqualTo(want.get(metric).asDouble());
      }
    }
  }

  private String[] args(Path runDir) {
    return new String[] {
      "--data", data.toString(), "--run-dir", runDir.toString(), "--epochs", "3",
      "--limit", "640", "--test-limit", "200", "--test-batch-size", "200",
      "--checkpoint-every-steps", "3", "--trackers", "console,jsonl"
    };
  }

  private static String[] append(String[] args, String extra) {
    String[] all = java.util.Arrays.copyOf(args, args.length + 1);
    all[args.length] = extra;
    return all;
  }

  /** The global step of the newest checkpoint: names are {@code ckpt-<step>-e<epoch>[.n]}. */
  private static long newestCheckpointStep(Path runDir) throws IOException {
    try (Stream<Path> s = Files.list(runDir.resolve("checkpoints"))) {
      return s.map(p -> p.getFileName().toString())
          .filter(n -> n.matches("ckpt-\\d+-e\\d+(\\.\\d+)?"))
          .mapToLong(n -> Long.parseLong(n.substring(5, n.indexOf("-e"))))
          .max()
          .orElse(-1);
    }
  }

  /** The program in a child JVM with this test's class path; stderr goes to a file. */
  private static final class Child {
    private final Process process;
    private final BufferedReader stdout;
    private final Path stderr;
    private final List<String> lines = new ArrayList<>();

    private Child(Process process, Path stderr) {
      this.process = process;
      this.stdout =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      this.stderr = stderr;
    }

    static Child start(String... args) throws IOException {
      List<String> command = new ArrayList<>();
      command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      command.add("-cp");
      command.add(System.getProperty("java.class.path"));
      command.add("-Dai.djl.offline=true");
      command.add("-Doffline=true");
      command.add(MnistTraining.class.getName());
      command.addAll(List.of(args));
      Path stderr = Files.createTempFile("kiln-child-", ".stderr");
      Process p = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
      return new Child(p, stderr);
    }

    /** Reads stdout until a line matches with a group-1 number passing {@code when}; then acts. */
    void readUntil(
        Pattern pattern, java.util.function.LongPredicate when, Consumer<ProcessHandle> action)
        throws IOException {
      String line;
      while ((line = stdout.readLine()) != null) {
        lines.add(line);
        Matcher m = pattern.matcher(line);
        if (m.matches() && when.test(Long.parseLong(m.group(1)))) {
          action.accept(process.toHandle());
          return;
        }
      }
      throw new AssertionError("the program ended before " + pattern + ":\n" + describe());
    }

    /** Reads the rest of stdout and waits for the exit status. */
    int finish() throws Exception {
      String line;
      while ((line = stdout.readLine()) != null) {
        lines.add(line);
      }
      return process.waitFor();
    }

    String output() {
      return String.join("\n", lines);
    }

    String describe() {
      String err;
      try {
        err = Files.readString(stderr);
      } catch (IOException e) {
        err = e.toString();
      }
      return "stdout:\n" + output() + "\nstderr:\n" + err;
    }
  }
}

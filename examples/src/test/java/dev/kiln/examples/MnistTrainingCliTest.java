package dev.kiln.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The program's command line, run in-process: help, and one clear line for each bad input. */
class MnistTrainingCliTest {

  @TempDir Path temp;

  private static void assertOneLineError(TestData.Run run, int status, String... fragments) {
    assertThat(run.status()).as("exit status; stderr: %s", run.err()).isEqualTo(status);
    List<String> errorLines =
        run.err().lines().filter(l -> l.startsWith("kiln-examples: error: ")).toList();
    assertThat(errorLines).as("error lines in stderr:\n%s", run.err()).hasSize(1);
    assertThat(errorLines.get(0)).contains(fragments);
    assertThat(run.err()).doesNotContain("\tat ");
  }

  @Test
  void helpListsEveryFlagAndExitsZero() {
    TestData.Run run = TestData.run("--help");
    assertThat(run.status()).isZero();
    assertThat(run.out())
        .contains(
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
            "--resume",
            "--checkpoint-every",
            "--checkpoint-every-steps",
            "--trackers",
            "Exit status");
  }

  @Test
  void aNonexistentDataPathIsAUsageErrorAndCreatesNothing() {
    Path runDir = temp.resolve("run");
    TestData.Run run =
        TestData.run("--data", temp.resolve("missing").toString(), "--run-dir", runDir.toString());
    assertOneLineError(
        run,
        2,
        "--data " + temp.resolve("missing") + ": no such directory",
        "apt-get install dataset-fashion-mnist");
    assertThat(runDir).doesNotExist();
  }

  @Test
  void aDataDirectoryWithoutTheFourFilesIsAUsageError() throws Exception {
    Path data = Files.createDirectories(temp.resolve("data"));
    Files.write(data.resolve("train-images-idx3-ubyte.gz"), new byte[] {1});
    Path runDir = temp.resolve("run");
    TestData.Run run = TestData.run("--data", data.toString(), "--run-dir", runDir.toString());
    assertOneLineError(
        run,
        2,
        "no train-labels-idx1-ubyte.gz, no t10k-images-idx3-ubyte.gz, no"
            + " t10k-labels-idx1-ubyte.gz");
    assertThat(runDir).doesNotExist();
  }

  @Test
  void withNoDataAnywhereOneLineListsThePlacesTriedAndHowToGetTheData() throws Exception {
    int closedPort;
    try (java.net.ServerSocket s =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    var environment =
        new MnistTraining.Environment(
            Map.of(),
            temp.resolve("system"),
            temp.resolve("cache"),
            List.of(java.net.URI.create("http://127.0.0.1:" + closedPort + "/fashion/")));
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    int status =
        MnistTraining.run(
            new String[] {"--run-dir", temp.resolve("run").toString()},
            new java.io.PrintStream(new java.io.ByteArrayOutputStream(), true),
            new java.io.PrintStream(err, true),
            environment);

    assertOneLineError(
        new TestData.Run(status, "", err.toString()),
        2,
        "no Fashion-MNIST data found; tried --data (not given), KILN_DATA (not set), "
            + temp.resolve("system")
            + " (no such directory), a download into "
            + temp.resolve("cache"),
        "http://127.0.0.1:" + closedPort + "/fashion/train-images-idx3-ubyte.gz",
        "apt-get install dataset-fashion-mnist",
        "--data DIR");
    assertThat(temp.resolve("run")).doesNotExist();
  }

  @Test
  void aNegativeEpochCountIsAUsageError() {
    TestData.Run run = TestData.run("--epochs", "-1");
    assertOneLineError(run, 2, "--epochs must be a whole number >= 1, not -1");
  }

  @Test
  void anUnknownTrackerIsAUsageErrorListingTheAvailableOnesAndCreatesNothing() {
    Path runDir = temp.resolve("run");
    TestData.Run run =
        TestData.run("--trackers", "console,tensorbord", "--run-dir", runDir.toString());
    assertOneLineError(
        run, 2, "unknown tracker 'tensorbord'", "console", "csv", "jsonl", "tensorboard", "wandb");
    assertThat(runDir).doesNotExist();
  }

  @Test
  void theCsvPluginIsFoundByName() throws Exception {
    MnistTraining.checkTrackers(List.of("console", "csv", "jsonl", "tensorboard", "wandb"));
  }

  @Test
  void resumingARunWhoseCheckpointsAreAllCorruptFailsInOneLineAndTouchesNothing() throws Exception {
    Path data = TestData.fashionMnist();
    Path runDir = temp.resolve("run");
    TestData.Run first = TestData.run(tiny(data, runDir));
    assertThat(first.status()).as(first.err()).isZero();
    Path checkpoint = onlyCheckpoint(runDir);
    try (RandomAccessFile f =
        new RandomAccessFile(checkpoint.resolve("model.ndlist").toFile(), "rw")) {
      f.seek(f.length() / 2);
      int b = f.read();
      f.seek(f.length() / 2);
      f.write(b ^ 0xff);
    }
    Map<String, String> before = TestData.snapshot(runDir);

    TestData.Run resumed = TestData.run(append(tiny(data, runDir), "--resume"));

    assertOneLineError(
        resumed, 1, "No valid checkpoint in " + runDir.resolve("checkpoints"), "model.ndlist");
    assertThat(TestData.snapshot(runDir)).isEqualTo(before);
  }

  @Test
  void resumingARunWhoseManifestsAreAllCorruptFailsInOneLineAndTouchesNothing() throws Exception {
    Path data = TestData.fashionMnist();
    Path runDir = temp.resolve("run");
    assertThat(TestData.run(tiny(data, runDir)).status()).isZero();
    Files.writeString(onlyCheckpoint(runDir).resolve("manifest.json"), "garbage");
    Map<String, String> before = TestData.snapshot(runDir);

    TestData.Run resumed = TestData.run(append(tiny(data, runDir), "--resume"));

    assertOneLineError(resumed, 1, "No valid checkpoint in " + runDir.resolve("checkpoints"));
    assertThat(TestData.snapshot(runDir)).isEqualTo(before);
  }

  @Test
  void startingANewRunInADirectoryWithCheckpointsIsRefusedPointingToResume() throws Exception {
    Path data = TestData.fashionMnist();
    Path runDir = temp.resolve("run");
    assertThat(TestData.run(tiny(data, runDir)).status()).isZero();
    Map<String, String> before = TestData.snapshot(runDir);

    TestData.Run again = TestData.run(tiny(data, runDir));

    assertOneLineError(again, 2, "already holds checkpoints", "--resume");
    assertThat(TestData.snapshot(runDir)).isEqualTo(before);
  }

  /** One step of training on 64 images: enough to leave a checkpoint. */
  @Test
  void aDatasetArchiveIsStagedToLocalDiskAndTheRunIsMirroredToTheDrive() throws Exception {
    Path data = TestData.fashionMnist();
    Path drive = temp.resolve("drive");
    Path archive = temp.resolve("drive-datasets/fashion-mnist.zip");
    Files.createDirectories(archive.getParent());
    try (var zip = new java.util.zip.ZipOutputStream(Files.newOutputStream(archive))) {
      for (String f : DataLocator.missingFiles(temp.resolve("nowhere"))) {
        zip.putNextEntry(new java.util.zip.ZipEntry("fashion-mnist/" + f));
        Files.copy(data.resolve(f), zip);
        zip.closeEntry();
      }
    }
    Path local = temp.resolve("local/fashion-mnist");
    String[] args = {
      "--data-archive",
      archive.toString(),
      "--data",
      local.toString(),
      "--mirror",
      drive.toString(),
      "--run-dir",
      temp.resolve("runs/mirrored").toString(),
      "--epochs",
      "1",
      "--limit",
      "64",
      "--test-limit",
      "64",
      "--trackers",
      "jsonl"
    };

    TestData.Run run = TestData.run(args);

    assertThat(run.status()).as(run.err()).isZero();
    assertThat(local.resolve("fashion-mnist").resolve("train-images-idx3-ubyte.gz")).exists();
    try (var s = Files.list(drive.resolve("mirrored/checkpoints"))) {
      assertThat(s.map(p -> p.getFileName().toString())).anyMatch(n -> n.startsWith("ckpt-"));
    }
    assertThat(drive.resolve("mirrored/logs/metrics.jsonl")).exists();
  }

  private static String[] tiny(Path data, Path runDir) {
    return new String[] {
      "--data",
      data.toString(),
      "--run-dir",
      runDir.toString(),
      "--epochs",
      "1",
      "--limit",
      "64",
      "--test-limit",
      "64",
      "--trackers",
      "jsonl"
    };
  }

  private static String[] append(String[] args, String extra) {
    String[] all = java.util.Arrays.copyOf(args, args.length + 1);
    all[args.length] = extra;
    return all;
  }

  private static Path onlyCheckpoint(Path runDir) throws Exception {
    try (Stream<Path> s = Files.list(runDir.resolve("checkpoints"))) {
      List<Path> dirs = s.filter(p -> p.getFileName().toString().startsWith("ckpt-")).toList();
      assertThat(dirs).hasSize(1);
      return dirs.get(0);
    }
  }
}

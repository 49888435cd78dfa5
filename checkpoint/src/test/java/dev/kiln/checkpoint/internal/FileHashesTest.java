package dev.kiln.checkpoint.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.checkpoint.CheckpointFile;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ThreadFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileHashesTest {

  private static final long MIB = 1L << 20;
  private static final long GIB = 1L << 30;

  /** 3.5 MiB: three full parts of 1 MiB and a last one of half a MiB. */
  private static final int LARGE = (int) (3 * MIB + MIB / 2);

  @TempDir Path dir;

  private final RecordingThreadFactory threads = new RecordingThreadFactory();

  // ---------------------------------------------------------------- part size

  @Test
  void filesUpToOneMebibyteHaveNoParts() {
    assertThat(FileHashes.partSize(0)).isZero();
    assertThat(FileHashes.partSize(1)).isZero();
    assertThat(FileHashes.partSize(MIB - 1)).isZero();
    assertThat(FileHashes.partSize(MIB)).isZero();
    assertThat(FileHashes.partCount(MIB, 0)).isZero();
  }

  @Test
  void oneByteOverOneMebibyteGivesTwoPartsOfOneMebibyte() {
    assertThat(FileHashes.partSize(MIB + 1)).isEqualTo(MIB);
    assertThat(FileHashes.partCount(MIB + 1, MIB)).isEqualTo(2);
  }

  @Test
  void partSizeStaysOneMebibyteUpTo64MebibytesAndDoublesJustAfter() {
    assertThat(FileHashes.partSize(64 * MIB)).isEqualTo(MIB);
    assertThat(FileHashes.partCount(64 * MIB, MIB)).isEqualTo(64);
    assertThat(FileHashes.partSize(64 * MIB + 1)).isEqualTo(2 * MIB);
    assertThat(FileHashes.partCount(64 * MIB + 1, 2 * MIB)).isEqualTo(33);
  }

  @Test
  void oneGibibyteIsSplitIntoSixtyFourPartsOf16Mebibytes() {
    assertThat(FileHashes.partSize(GIB)).isEqualTo(16 * MIB);
    assertThat(FileHashes.partCount(GIB, 16 * MIB)).isEqualTo(64);
  }

  @Test
  void hundredGibibytesAreSplitIntoFiftyPartsOfTwoGibibytes() {
    assertThat(FileHashes.partSize(100 * GIB)).isEqualTo(2 * GIB);
    assertThat(FileHashes.partCount(100 * GIB, 2 * GIB)).isEqualTo(50);
  }

  @Test
  void partSizeIsTheSmallestPowerOfTwoOfAtLeastOneMebibyteGivingAtMost64Parts() {
    // Sizes up to 4 EiB; theLargestPossibleFileSizeStillGivesAtMost64Parts covers the top of the
    // range.
    Random random = new Random(42);
    List<Long> sizes = new ArrayList<>();
    for (int shift = 20; shift < 62; shift++) {
      sizes.add((1L << shift) - 1);
      sizes.add(1L << shift);
      sizes.add((1L << shift) + 1);
    }
    for (int i = 0; i < 1000; i++) {
      sizes.add(MIB + 1 + (random.nextLong() >>> (2 + random.nextInt(40))));
    }
    for (long size : sizes) {
      if (size <= MIB) {
        continue;
      }
      long part = FileHashes.partSize(size);
      int count = FileHashes.partCount(size, part);
      assertThat(Long.bitCount(part)).as("power of two for size %d", size).isEqualTo(1);
      assertThat(part).as("part size for size %d", size).isGreaterThanOrEqualTo(MIB);
      assertThat(count).as("parts for size %d", size).isBetween(2, 64);
      assertThat((long) count).as("parts for size %d", size).isEqualTo((size + part - 1) / part);
      if (part > MIB) {
        assertThat((size + part / 2 - 1) / (part / 2))
            .as("half the part size would give more than 64 parts for size %d", size)
            .isGreaterThan(64);
      }
    }
  }

  /** The arithmetic must not overflow near {@code Long.MAX_VALUE}. */
  @Test
  void theLargestPossibleFileSizeStillGivesAtMost64Parts() {
    long part = FileHashes.partSize(Long.MAX_VALUE);

    assertThat(part).isEqualTo(1L << 57);
    assertThat(FileHashes.partCount(Long.MAX_VALUE, part)).isEqualTo(64);
  }

  // ---------------------------------------------------------------- describe

  @Test
  void describeGivesSizeWholeDigestAndADigestOfEachPartMatchingAnIndependentSha256()
      throws IOException {
    byte[] large = randomBytes(LARGE, 1);
    byte[] small = randomBytes(100, 2);
    Map<String, Path> files = new LinkedHashMap<>();
    files.put("model.bin", write("model.bin", large));
    files.put("state/small.json", write("small.json", small));
    files.put("empty.bin", write("empty.bin", new byte[0]));

    Map<String, CheckpointFile> described = FileHashes.describe(files, threads);

    assertThat(described).containsOnlyKeys("model.bin", "state/small.json", "empty.bin");
    CheckpointFile model = described.get("model.bin");
    assertThat(model.name()).isEqualTo("model.bin");
    assertThat(model.size()).isEqualTo(LARGE);
    assertThat(model.sha256()).isEqualTo(sha256(large, 0, LARGE));
    assertThat(model.partSize()).isEqualTo(MIB);
    assertThat(model.partSha256())
        .containsExactly(
            sha256(large, 0, (int) MIB),
            sha256(large, (int) MIB, (int) MIB),
            sha256(large, (int) (2 * MIB), (int) MIB),
            sha256(large, (int) (3 * MIB), (int) (MIB / 2)));
    assertThat(described.get("state/small.json"))
        .isEqualTo(new CheckpointFile("state/small.json", 100, sha256(small, 0, 100)));
    assertThat(described.get("empty.bin"))
        .isEqualTo(
            new CheckpointFile(
                "empty.bin",
                0,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  }

  @Test
  void describeSplitsOnlyFilesLargerThanOneMebibyte() throws IOException {
    byte[] exactly = randomBytes((int) MIB, 3);
    byte[] oneMore = randomBytes((int) MIB + 1, 4);
    Map<String, Path> files = new LinkedHashMap<>();
    files.put("exactly.bin", write("exactly.bin", exactly));
    files.put("one-more.bin", write("one-more.bin", oneMore));

    Map<String, CheckpointFile> described = FileHashes.describe(files, threads);

    assertThat(described.get("exactly.bin").partSize()).isZero();
    assertThat(described.get("exactly.bin").partSha256()).isEmpty();
    assertThat(described.get("exactly.bin").sha256()).isEqualTo(sha256(exactly, 0, (int) MIB));
    assertThat(described.get("one-more.bin").partSize()).isEqualTo(MIB);
    assertThat(described.get("one-more.bin").partSha256())
        .containsExactly(sha256(oneMore, 0, (int) MIB), sha256(oneMore, (int) MIB, 1));
    assertThat(described.get("one-more.bin").sha256())
        .isEqualTo(sha256(oneMore, 0, oneMore.length));
  }

  @Test
  void describeOfNoFilesIsEmpty() throws IOException {
    assertThat(FileHashes.describe(Map.of(), threads)).isEmpty();
  }

  @Test
  void describeOfAMissingFileThrowsNoSuchFileException() {
    Map<String, Path> files = Map.of("gone.bin", dir.resolve("gone.bin"));

    assertThatThrownBy(() -> FileHashes.describe(files, threads))
        .isInstanceOf(NoSuchFileException.class);
  }

  @Test
  void hashingThreadsComeFromTheGivenFactoryAndAreAllFinishedOnReturn() throws IOException {
    Path file = write("model.bin", randomBytes(LARGE, 5));

    Map<String, CheckpointFile> described = FileHashes.describe(Map.of("model.bin", file), threads);
    FileHashes.verify(Map.of(described.get("model.bin"), file), threads, new HashMap<>());

    int cores = Runtime.getRuntime().availableProcessors();
    // All hashing happens on the factory's threads, at most one per core per call.
    assertThat(threads.created()).isNotEmpty().hasSizeLessThanOrEqualTo(2 * cores);
    assertThat(threads.created()).noneMatch(Thread::isAlive);
  }

  @Test
  void anInterruptedCallerGetsCorrectDigestsAndKeepsItsInterruptFlag() throws IOException {
    byte[] data = randomBytes(LARGE, 6);
    Path file = write("model.bin", data);
    Map<String, CheckpointFile> described = FileHashes.describe(Map.of("model.bin", file), threads);
    Map<String, IOException> failures = new HashMap<>();

    Thread.currentThread().interrupt();
    List<FileHashes.Mismatch> mismatches;
    boolean stillInterrupted;
    try {
      mismatches = FileHashes.verify(Map.of(described.get("model.bin"), file), threads, failures);
    } finally {
      stillInterrupted = Thread.interrupted();
    }

    assertThat(stillInterrupted).isTrue();
    assertThat(failures).isEmpty();
    assertThat(mismatches).isEmpty();
  }

  // ---------------------------------------------------------------- verify

  @Test
  void verifyOfIntactFilesFindsNothing() throws IOException {
    Map<CheckpointFile, Path> files = describedFiles();
    Map<String, IOException> failures = new HashMap<>();

    assertThat(FileHashes.verify(files, threads, failures)).isEmpty();
    assertThat(failures).isEmpty();
  }

  @Test
  void flippedByteIsReportedInExactlyThePartHoldingItWithItsOffsetAndLength() throws IOException {
    byte[] data = randomBytes(LARGE, 6);
    Path file = write("model.bin", data);
    CheckpointFile expected =
        FileHashes.describe(Map.of("model.bin", file), threads).get("model.bin");
    long offset = 2 * MIB + 12345; // in the third part
    flipByte(file, offset);
    data[(int) offset] ^= 1;
    Map<String, IOException> failures = new HashMap<>();

    List<FileHashes.Mismatch> mismatches =
        FileHashes.verify(Map.of(expected, file), threads, failures);

    assertThat(mismatches)
        .containsExactly(
            new FileHashes.Mismatch(
                "model.bin", 2, 2 * MIB, MIB, sha256(data, (int) (2 * MIB), (int) MIB)));
    assertThat(failures).isEmpty();
  }

  @Test
  void flippedBytesInTheFirstAndTheShorterLastPartAreReportedInPartOrder() throws IOException {
    byte[] data = randomBytes(LARGE, 7);
    Path file = write("model.bin", data);
    CheckpointFile expected =
        FileHashes.describe(Map.of("model.bin", file), threads).get("model.bin");
    flipByte(file, LARGE - 1);
    flipByte(file, 0);

    List<FileHashes.Mismatch> mismatches =
        FileHashes.verify(Map.of(expected, file), threads, new HashMap<>());

    assertThat(mismatches)
        .extracting(
            FileHashes.Mismatch::name,
            FileHashes.Mismatch::part,
            FileHashes.Mismatch::offset,
            FileHashes.Mismatch::length)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("model.bin", 0, 0L, MIB),
            org.assertj.core.groups.Tuple.tuple("model.bin", 3, 3 * MIB, MIB / 2));
  }

  @Test
  void flippedByteInAFileWithoutPartsIsReportedForTheWholeFileAsPartMinusOne() throws IOException {
    byte[] data = randomBytes(1000, 8);
    Path file = write("state.json", data);
    CheckpointFile expected = new CheckpointFile("state.json", 1000, sha256(data, 0, 1000));
    flipByte(file, 999);
    data[999] ^= 1;

    List<FileHashes.Mismatch> mismatches =
        FileHashes.verify(Map.of(expected, file), threads, new HashMap<>());

    assertThat(mismatches)
        .containsExactly(new FileHashes.Mismatch("state.json", -1, 0, 1000, sha256(data, 0, 1000)));
  }

  @Test
  void verifyChecksThePartsNotTheWholeFileDigestOfAFileWithParts() throws IOException {
    byte[] data = randomBytes(LARGE, 9);
    Path file = write("model.bin", data);
    CheckpointFile described =
        FileHashes.describe(Map.of("model.bin", file), threads).get("model.bin");
    String wrong = sha256(new byte[] {1}, 0, 1);
    CheckpointFile wrongWholeDigest =
        new CheckpointFile(
            "model.bin", described.size(), wrong, described.partSize(), described.partSha256());

    assertThat(FileHashes.verify(Map.of(wrongWholeDigest, file), threads, new HashMap<>()))
        .isEmpty();
  }

  @Test
  void missingFileLandsInFailuresAndTheOthersAreStillChecked() throws IOException {
    Map<CheckpointFile, Path> files = describedFiles();
    CheckpointFile model = entry(files, "model.bin");
    CheckpointFile state = entry(files, "state.json");
    Files.delete(files.get(model));
    flipByte(files.get(state), 3);
    Map<String, IOException> failures = new HashMap<>();

    List<FileHashes.Mismatch> mismatches = FileHashes.verify(files, threads, failures);

    assertThat(failures).containsOnlyKeys("model.bin");
    assertThat(failures.get("model.bin")).isInstanceOf(NoSuchFileException.class);
    assertThat(mismatches).extracting(FileHashes.Mismatch::name).containsExactly("state.json");
  }

  // ---------------------------------------------------------------- helpers

  /** A 3.5 MiB {@code model.bin} and a small {@code state.json}, described. */
  private Map<CheckpointFile, Path> describedFiles() throws IOException {
    Map<String, Path> byName = new LinkedHashMap<>();
    byName.put("model.bin", write("model.bin", randomBytes(LARGE, 10)));
    byName.put("state.json", write("state.json", randomBytes(200, 11)));
    Map<CheckpointFile, Path> files = new LinkedHashMap<>();
    FileHashes.describe(byName, threads).forEach((name, file) -> files.put(file, byName.get(name)));
    return files;
  }

  private static CheckpointFile entry(Map<CheckpointFile, Path> files, String name) {
    return files.keySet().stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
  }

  private Path write(String name, byte[] data) throws IOException {
    return Files.write(dir.resolve(name), data);
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] data = new byte[size];
    new Random(seed).nextBytes(data);
    return data;
  }

  private static String sha256(byte[] data, int offset, int length) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      digest.update(data, offset, length);
      return HexFormat.of().formatHex(digest.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  private static void flipByte(Path file, long offset) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.seek(offset);
      int b = raf.read();
      raf.seek(offset);
      raf.write(b ^ 0x01);
    }
  }

  /** Makes plain threads and remembers each. */
  private static final class RecordingThreadFactory implements ThreadFactory {
    private final List<Thread> created = new ArrayList<>();

    @Override
    public synchronized Thread newThread(Runnable runnable) {
      Thread thread = new Thread(runnable, "test-hash-" + created.size());
      created.add(thread);
      return thread;
    }

    synchronized List<Thread> created() {
      return List.copyOf(created);
    }
  }
}

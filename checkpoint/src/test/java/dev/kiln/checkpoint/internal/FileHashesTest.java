package dev.kiln.checkpoint.internal;

import static dev.kiln.checkpoint.IndependentChecksums.crc32c;
import static dev.kiln.checkpoint.IndependentChecksums.partCrc32cs;
import static dev.kiln.checkpoint.IndependentChecksums.sha256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.checkpoint.CheckpointFile;
import dev.kiln.checkpoint.internal.FileHashes.Algorithm;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ThreadFactory;
import java.util.zip.CRC32C;
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
  void anEmptyFileHasNoParts() {
    assertThat(FileHashes.partSize(0)).isZero();
    assertThat(FileHashes.partCount(0, 0)).isZero();
  }

  @Test
  void aNonEmptyFileUpToOneMebibyteIsOnePartOfOneMebibyte() {
    for (long size : new long[] {1, 100, MIB - 1, MIB}) {
      assertThat(FileHashes.partSize(size)).as("part size for size %d", size).isEqualTo(MIB);
      assertThat(FileHashes.partCount(size, MIB)).as("parts for size %d", size).isEqualTo(1);
    }
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
    sizes.add(1L);
    sizes.add(100L);
    for (int shift = 20; shift < 62; shift++) {
      sizes.add((1L << shift) - 1);
      sizes.add(1L << shift);
      sizes.add((1L << shift) + 1);
    }
    for (int i = 0; i < 1000; i++) {
      sizes.add(MIB + 1 + (random.nextLong() >>> (2 + random.nextInt(40))));
    }
    for (long size : sizes) {
      long part = FileHashes.partSize(size);
      int count = FileHashes.partCount(size, part);
      assertThat(Long.bitCount(part)).as("power of two for size %d", size).isEqualTo(1);
      assertThat(part).as("part size for size %d", size).isGreaterThanOrEqualTo(MIB);
      assertThat(count).as("parts for size %d", size).isBetween(size > MIB ? 2 : 1, 64);
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
  void describeGivesSizeWholeSha256AndTheCrc32cOfEachPartMatchingIndependentChecksums()
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
    assertThat(model.partCrc32c())
        .containsExactly(
            crc32c(large, 0, (int) MIB),
            crc32c(large, (int) MIB, (int) MIB),
            crc32c(large, (int) (2 * MIB), (int) MIB),
            crc32c(large, (int) (3 * MIB), (int) (MIB / 2)));
    assertThat(described.get("state/small.json"))
        .isEqualTo(
            new CheckpointFile(
                "state/small.json",
                100,
                sha256(small, 0, 100),
                MIB,
                List.of(crc32c(small, 0, 100))));
    assertThat(described.get("empty.bin"))
        .isEqualTo(
            new CheckpointFile(
                "empty.bin",
                0,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  }

  @Test
  void aHundredByteFileIsDescribedWithOnePartOfOneMebibyteWhoseCrc32cMatchesAnIndependentOne()
      throws IOException {
    byte[] data = randomBytes(100, 12);

    CheckpointFile file =
        FileHashes.describe(Map.of("state.json", write("state.json", data)), threads)
            .get("state.json");

    assertThat(file.size()).isEqualTo(100);
    assertThat(file.sha256()).isEqualTo(sha256(data, 0, 100));
    assertThat(file.partSize()).isEqualTo(MIB);
    assertThat(file.partCrc32c()).containsExactly(crc32c(data, 0, 100));
  }

  @Test
  void describeGivesAFileOfExactlyOneMebibyteOnePartAndAFileOneByteLongerTwo() throws IOException {
    byte[] exactly = randomBytes((int) MIB, 3);
    byte[] oneMore = randomBytes((int) MIB + 1, 4);
    Map<String, Path> files = new LinkedHashMap<>();
    files.put("exactly.bin", write("exactly.bin", exactly));
    files.put("one-more.bin", write("one-more.bin", oneMore));

    Map<String, CheckpointFile> described = FileHashes.describe(files, threads);

    assertThat(described.get("exactly.bin").partSize()).isEqualTo(MIB);
    assertThat(described.get("exactly.bin").partCrc32c())
        .containsExactly(crc32c(exactly, 0, (int) MIB));
    assertThat(described.get("exactly.bin").sha256()).isEqualTo(sha256(exactly, 0, (int) MIB));
    assertThat(described.get("one-more.bin").partSize()).isEqualTo(MIB);
    assertThat(described.get("one-more.bin").partCrc32c())
        .containsExactly(crc32c(oneMore, 0, (int) MIB), crc32c(oneMore, (int) MIB, 1));
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
    FileHashes.verify(
        Map.of(described.get("model.bin"), file), Algorithm.CRC32C, threads, new HashMap<>());

    int cores = Runtime.getRuntime().availableProcessors();
    // All hashing happens on the factory's threads, at most one per core per call.
    assertThat(threads.created()).isNotEmpty().hasSizeLessThanOrEqualTo(2 * cores);
    assertThat(threads.created()).noneMatch(Thread::isAlive);
  }

  @Test
  void anInterruptedCallerGetsCorrectChecksumsAndKeepsItsInterruptFlag() throws IOException {
    byte[] data = randomBytes(LARGE, 6);
    Path file = write("model.bin", data);
    Map<String, CheckpointFile> described = FileHashes.describe(Map.of("model.bin", file), threads);
    Map<String, IOException> failures = new HashMap<>();

    Thread.currentThread().interrupt();
    List<FileHashes.Mismatch> mismatches;
    boolean stillInterrupted;
    try {
      mismatches =
          FileHashes.verify(
              Map.of(described.get("model.bin"), file), Algorithm.CRC32C, threads, failures);
    } finally {
      stillInterrupted = Thread.interrupted();
    }

    assertThat(stillInterrupted).isTrue();
    assertThat(failures).isEmpty();
    assertThat(mismatches).isEmpty();
  }

  // ---------------------------------------------------------------- verify

  @Test
  void verifyOfIntactFilesFindsNothingWithEitherAlgorithm() throws IOException {
    Map<CheckpointFile, Path> files = describedFiles();

    for (Algorithm algorithm : Algorithm.values()) {
      Map<String, IOException> failures = new HashMap<>();

      assertThat(FileHashes.verify(files, algorithm, threads, failures))
          .as("%s", algorithm)
          .isEmpty();
      assertThat(failures).as("%s", algorithm).isEmpty();
    }
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
        FileHashes.verify(Map.of(expected, file), Algorithm.CRC32C, threads, failures);

    assertThat(mismatches)
        .containsExactly(
            new FileHashes.Mismatch(
                "model.bin",
                2,
                2 * MIB,
                MIB,
                Algorithm.CRC32C,
                crc32c(data, (int) (2 * MIB), (int) MIB)));
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
        FileHashes.verify(Map.of(expected, file), Algorithm.CRC32C, threads, new HashMap<>());

    assertThat(mismatches)
        .extracting(
            FileHashes.Mismatch::name,
            FileHashes.Mismatch::part,
            FileHashes.Mismatch::offset,
            FileHashes.Mismatch::length,
            FileHashes.Mismatch::algorithm)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("model.bin", 0, 0L, MIB, Algorithm.CRC32C),
            org.assertj.core.groups.Tuple.tuple(
                "model.bin", 3, 3 * MIB, MIB / 2, Algorithm.CRC32C));
  }

  @Test
  void withCrc32cAFileRecordedWithoutPartsFallsBackToItsWholeSha256AndAFlipIsPartMinusOne()
      throws IOException {
    byte[] data = randomBytes(1000, 8);
    Path file = write("state.json", data);
    // As parsed from a manifest written before part CRC32Cs: no parts.
    CheckpointFile expected = new CheckpointFile("state.json", 1000, sha256(data, 0, 1000));
    assertThat(
            FileHashes.verify(Map.of(expected, file), Algorithm.CRC32C, threads, new HashMap<>()))
        .isEmpty();
    flipByte(file, 999);
    data[999] ^= 1;

    List<FileHashes.Mismatch> mismatches =
        FileHashes.verify(Map.of(expected, file), Algorithm.CRC32C, threads, new HashMap<>());

    assertThat(mismatches)
        .containsExactly(
            new FileHashes.Mismatch(
                "state.json", -1, 0, 1000, Algorithm.SHA256, sha256(data, 0, 1000)));
  }

  @Test
  void verifyWithCrc32cChecksThePartsNotTheWholeFileSha256OfAFileWithParts() throws IOException {
    byte[] data = randomBytes(LARGE, 9);
    Path file = write("model.bin", data);
    CheckpointFile described =
        FileHashes.describe(Map.of("model.bin", file), threads).get("model.bin");
    CheckpointFile wrongWholeSha256 =
        new CheckpointFile(
            "model.bin",
            described.size(),
            sha256(new byte[] {1}, 0, 1),
            described.partSize(),
            described.partCrc32c());

    assertThat(
            FileHashes.verify(
                Map.of(wrongWholeSha256, file), Algorithm.CRC32C, threads, new HashMap<>()))
        .isEmpty();
  }

  @Test
  void verifyWithSha256ReportsAWrongWholeFileSha256AsPartMinusOneEvenIfThePartsMatch()
      throws IOException {
    byte[] data = randomBytes(LARGE, 13);
    Path file = write("model.bin", data);
    CheckpointFile wrongWholeSha256 =
        new CheckpointFile(
            "model.bin", LARGE, sha256(new byte[] {1}, 0, 1), MIB, partCrc32cs(data, (int) MIB));
    Map<String, IOException> failures = new HashMap<>();

    List<FileHashes.Mismatch> mismatches =
        FileHashes.verify(Map.of(wrongWholeSha256, file), Algorithm.SHA256, threads, failures);

    assertThat(mismatches)
        .containsExactly(
            new FileHashes.Mismatch(
                "model.bin", -1, 0, LARGE, Algorithm.SHA256, sha256(data, 0, LARGE)));
    assertThat(failures).isEmpty();
  }

  @Test
  void verifyWithSha256IgnoresWrongPartChecksumsWhenTheWholeFileSha256Matches() throws IOException {
    byte[] data = randomBytes(LARGE, 14);
    Path file = write("model.bin", data);
    CheckpointFile wrongParts =
        new CheckpointFile(
            "model.bin",
            LARGE,
            sha256(data, 0, LARGE),
            MIB,
            List.of("00000000", "00000000", "00000000", "00000000"));

    assertThat(
            FileHashes.verify(Map.of(wrongParts, file), Algorithm.SHA256, threads, new HashMap<>()))
        .isEmpty();
    assertThat(
            FileHashes.verify(Map.of(wrongParts, file), Algorithm.CRC32C, threads, new HashMap<>()))
        .as("the same entry checked by its parts")
        .hasSize(4);
  }

  @Test
  void verifyWithSha256ReportsAFlippedByteInAFileWithPartsForTheWholeFile() throws IOException {
    byte[] data = randomBytes(LARGE, 15);
    Path file = write("model.bin", data);
    CheckpointFile expected =
        FileHashes.describe(Map.of("model.bin", file), threads).get("model.bin");
    flipByte(file, 2 * MIB + 7);
    data[(int) (2 * MIB + 7)] ^= 1;

    List<FileHashes.Mismatch> mismatches =
        FileHashes.verify(Map.of(expected, file), Algorithm.SHA256, threads, new HashMap<>());

    assertThat(mismatches)
        .containsExactly(
            new FileHashes.Mismatch(
                "model.bin", -1, 0, LARGE, Algorithm.SHA256, sha256(data, 0, LARGE)));
  }

  @Test
  void missingFileLandsInFailuresAndTheOthersAreStillChecked() throws IOException {
    Map<CheckpointFile, Path> files = describedFiles();
    CheckpointFile model = entry(files, "model.bin");
    CheckpointFile state = entry(files, "state.json");
    Files.delete(files.get(model));
    flipByte(files.get(state), 3);
    Map<String, IOException> failures = new HashMap<>();

    List<FileHashes.Mismatch> mismatches =
        FileHashes.verify(files, Algorithm.CRC32C, threads, failures);

    assertThat(failures).containsOnlyKeys("model.bin");
    assertThat(failures.get("model.bin")).isInstanceOf(NoSuchFileException.class);
    assertThat(mismatches).extracting(FileHashes.Mismatch::name).containsExactly("state.json");
  }

  @Test
  void anEmptyFileHasNothingToMismatchWithEitherAlgorithm() throws IOException {
    Path file = write("empty.bin", new byte[0]);
    CheckpointFile expected =
        new CheckpointFile(
            "empty.bin", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    for (Algorithm algorithm : Algorithm.values()) {
      Map<String, IOException> failures = new HashMap<>();

      assertThat(FileHashes.verify(Map.of(expected, file), algorithm, threads, failures))
          .as("%s", algorithm)
          .isEmpty();
      assertThat(failures).as("%s", algorithm).isEmpty();
    }
  }

  // ---------------------------------------------------------------- crc32c

  @Test
  void crc32cOfTheAsciiDigitsOneToNineIsTheCrc32cCheckValue() {
    assertThat(FileHashes.crc32c("123456789".getBytes(StandardCharsets.US_ASCII)))
        .isEqualTo("e3069283");
  }

  @Test
  void crc32cOfNoBytesIsEightZeros() {
    assertThat(FileHashes.crc32c(new byte[0])).isEqualTo("00000000");
  }

  @Test
  void crc32cIsEightLowercaseHexDigitsKeepingLeadingZeros() {
    // Finds contents whose CRC32C is below 0x10000000, so its hex starts with a zero.
    byte[] data = null;
    for (long seed = 0; data == null; seed++) {
      byte[] candidate = randomBytes(16, seed);
      if (Long.parseLong(crc32c(candidate, 0, 16), 16) < 0x1000_0000L) {
        data = candidate;
      }
    }

    assertThat(FileHashes.crc32c(data)).startsWith("0").isEqualTo(crc32c(data, 0, 16));
    for (long seed = 100; seed < 200; seed++) {
      byte[] random = randomBytes(64, seed);
      assertThat(FileHashes.crc32c(random)).matches("[0-9a-f]{8}").isEqualTo(crc32c(random, 0, 64));
    }
  }

  // ---------------------------------------------------------------- combining CRC32Cs

  @Test
  void combiningTheCrc32csOfTwoPiecesGivesTheCrc32cOfTheirConcatenationForRandomSplits() {
    byte[] data = randomBytes((int) (3 * MIB + 12345), 20);
    Random random = new Random(21);
    for (int i = 0; i < 500; i++) {
      int start = random.nextInt(data.length + 1);
      int end = start + random.nextInt(data.length - start + 1);
      int split = start + random.nextInt(end - start + 1);

      assertCombinesToTheConcatenation(data, start, split, end);
    }
  }

  @Test
  void combiningWithAnEmptyFirstOrSecondPieceGivesTheCrc32cOfTheOtherPiece() {
    byte[] data = randomBytes((int) (2 * MIB + 7), 22);
    int[] lengths = {
      0, 1, 2, 3, 4, 7, 8, 1000, (int) MIB - 1, (int) MIB, (int) MIB + 1, data.length
    };
    for (int length : lengths) {
      assertCombinesToTheConcatenation(data, 0, 0, length); // A empty
      assertCombinesToTheConcatenation(data, 0, length, length); // B empty
    }
  }

  @Test
  void combiningPiecesLongerThanOneMebibyteGivesTheCrc32cOfTheirConcatenation() {
    byte[] data = randomBytes((int) (5 * MIB + 3), 23);
    int[] splits = {1, (int) MIB, (int) MIB + 1, (int) (2 * MIB) - 1, (int) (3 * MIB) + 17};
    for (int split : splits) {
      assertCombinesToTheConcatenation(data, 0, split, data.length);
    }
  }

  @Test
  void combiningTheOneMebibyteBlockCrc32csOfAFileOneByOneGivesTheCrc32cOfTheWholeFile() {
    byte[] data = randomBytes((int) (4 * MIB + 99), 24);
    CRC32C whole = new CRC32C();
    whole.update(data, 0, data.length);
    int crc = 0; // CRC32C of no bytes
    for (int offset = 0; offset < data.length; offset += (int) MIB) {
      int length = Math.min((int) MIB, data.length - offset);
      crc = FileHashes.combineCrc32c(crc, crc32cValue(data, offset, length), length);
    }

    assertThat(hex(crc)).isEqualTo(String.format("%08x", whole.getValue()));
  }

  // ---------------------------------------------------------------- part CRC32Cs from blocks

  @Test
  void partCrc32csOfAOneByteFileAreTheCrc32cOfThatByte() {
    assertPartCrc32csFromBlocksMatchIndependentOnes(1, MIB, 1);
  }

  @Test
  void partCrc32csOfAFileOfExactlyOneMebibyteAreOnePart() {
    assertPartCrc32csFromBlocksMatchIndependentOnes(MIB, MIB, 1);
  }

  @Test
  void partCrc32csOfAFileOneByteOverOneMebibyteAreAFullPartAndAOneBytePart() {
    assertPartCrc32csFromBlocksMatchIndependentOnes(MIB + 1, MIB, 2);
  }

  @Test
  void partCrc32csOfAThreeAndAHalfMebibyteFileAreFourPartsTheLastHalfAMebibyte() {
    assertPartCrc32csFromBlocksMatchIndependentOnes(3 * MIB + MIB / 2, MIB, 4);
  }

  @Test
  void partCrc32csOfAFileOneByteOver64MebibytesCombineTwoBlocksIntoEachTwoMebibytePart() {
    assertPartCrc32csFromBlocksMatchIndependentOnes(64 * MIB + 1, 2 * MIB, 33);
  }

  @Test
  void partCrc32csOfAFileWhoseLastTwoMebibytePartHasAFullAndAShortBlockCombineBoth() {
    assertPartCrc32csFromBlocksMatchIndependentOnes(65 * MIB + 5, 2 * MIB, 33);
  }

  @Test
  void partCrc32csOfAnEmptyFileAreNone() {
    assertThat(FileHashes.partCrc32c(0, List.of())).isEmpty();
  }

  @Test
  void algorithmsAreLabelledAsPeopleKnowThem() {
    assertThat(Algorithm.SHA256.label()).isEqualTo("SHA-256");
    assertThat(Algorithm.CRC32C.label()).isEqualTo("CRC32C");
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

  /**
   * Checks {@link FileHashes#combineCrc32c} on the pieces {@code [start, split)} and {@code [split,
   * end)} of {@code data} against the CRC32C of {@code [start, end)} computed directly.
   */
  private static void assertCombinesToTheConcatenation(byte[] data, int start, int split, int end) {
    int crcA = crc32cValue(data, start, split - start);
    int crcB = crc32cValue(data, split, end - split);

    assertThat(hex(FileHashes.combineCrc32c(crcA, crcB, end - split)))
        .as("bytes %d-%d split at %d", start, end, split)
        .isEqualTo(crc32c(data, start, end - start));
  }

  /**
   * Builds a file of {@code size} bytes block by block (each 1 MiB block its own random bytes, so
   * no file-sized array is needed), computing each block's CRC32C and each part's CRC32C directly
   * with {@link CRC32C}, and checks that {@link FileHashes#partCrc32c} gives the latter from the
   * former.
   */
  private static void assertPartCrc32csFromBlocksMatchIndependentOnes(
      long size, long partSize, int parts) {
    List<Integer> blockCrcs = new ArrayList<>();
    List<String> expected = new ArrayList<>();
    CRC32C part = new CRC32C();
    byte[] block = new byte[(int) MIB];
    for (long offset = 0; offset < size; offset += MIB) {
      int length = (int) Math.min(MIB, size - offset);
      new Random(size * 31 + offset).nextBytes(block);
      CRC32C blockCrc = new CRC32C();
      blockCrc.update(block, 0, length);
      blockCrcs.add((int) blockCrc.getValue());
      part.update(block, 0, length);
      if ((offset + length) % partSize == 0 || offset + length == size) {
        expected.add(String.format("%08x", part.getValue()));
        part.reset();
      }
    }

    List<String> actual = FileHashes.partCrc32c(size, blockCrcs);

    assertThat(expected).as("parts of a %d-byte file", size).hasSize(parts);
    assertThat(actual).as("part CRC32Cs of a %d-byte file", size).isEqualTo(expected);
  }

  /** Independent CRC32C of {@code length} bytes from {@code offset}, as the int it fits in. */
  private static int crc32cValue(byte[] data, int offset, int length) {
    CRC32C crc = new CRC32C();
    crc.update(data, offset, length);
    return (int) crc.getValue();
  }

  /** An int CRC32C as 8 lowercase hex digits, as {@link CRC32C#getValue()} would be formatted. */
  private static String hex(int crc) {
    return String.format("%08x", Integer.toUnsignedLong(crc));
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

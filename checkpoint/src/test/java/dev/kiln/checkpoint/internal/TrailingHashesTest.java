package dev.kiln.checkpoint.internal;

import static dev.kiln.checkpoint.IndependentChecksums.partCrc32cs;
import static dev.kiln.checkpoint.IndependentChecksums.sha256;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.kiln.checkpoint.CheckpointFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ThreadFactory;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrailingHashesTest {

  private static final int MIB = 1 << 20;

  /** Not a divisor of 1 MiB, so slices end inside blocks and cross block boundaries. */
  private static final int SLICE = 300_001;

  @TempDir Path dir;

  private Path root;
  private final RecordingThreadFactory threads = new RecordingThreadFactory();

  @BeforeEach
  void setUp() throws IOException {
    root = Files.createDirectory(dir.resolve("root"));
  }

  // ---------------------------------------------------------------- digests of a tracked file

  @Test
  void aFileWrittenInSlicesGetsItsSizeSha256AndPartCrc32csAsComputedIndependently()
      throws IOException {
    byte[] data = randomBytes(3 * MIB + MIB / 2 + 123, 1);
    Path file = root.resolve("model.bin");

    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, data, SLICE);

      TrailingHashes.Digests digests = session.digests(file);

      assertThat(digests).isNotNull();
      assertThat(digests.size()).isEqualTo(data.length);
      assertThat(digests.sha256()).isEqualTo(sha256(data));
      assertThat(digests.partCrc32c()).isEqualTo(partCrc32cs(data, MIB)).hasSize(4);
    }
  }

  @Test
  void filesOfNoBytesOneByteAndAroundABlockBoundaryGetIndependentlyComputedDigests()
      throws IOException {
    int[] sizes = {0, 1, MIB - 1, MIB, MIB + 1, 2 * MIB};
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      for (int size : sizes) {
        byte[] data = randomBytes(size, 100 + size);
        Path file = root.resolve("file-" + size + ".bin");
        writeTracked(file, data, SLICE);

        TrailingHashes.Digests digests = session.digests(file);

        assertThat(digests).as("digests of %d bytes", size).isNotNull();
        assertThat(digests.size()).as("size of %d bytes", size).isEqualTo(size);
        assertThat(digests.sha256()).as("SHA-256 of %d bytes", size).isEqualTo(sha256(data));
        assertThat(digests.partCrc32c())
            .as("part CRC32Cs of %d bytes", size)
            .isEqualTo(partCrc32cs(data, MIB));
      }
    }
  }

  @Test
  void aFileWrittenInOneSliceGetsTheSameDigestsAsOneWrittenInSmallSlices() throws IOException {
    byte[] data = randomBytes(2 * MIB + 5, 2);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(root.resolve("one.bin"), data, data.length);
      writeTracked(root.resolve("small.bin"), data, 4096);

      TrailingHashes.Digests expected =
          new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB));
      assertThat(session.digests(root.resolve("one.bin"))).isEqualTo(expected);
      assertThat(session.digests(root.resolve("small.bin"))).isEqualTo(expected);
    }
  }

  @Test
  void aFileOver64MebibytesGetsTwoMebibytePartsCombinedFromItsBlocks() throws IOException {
    long size = 64L * MIB + 1;
    Path file = root.resolve("large.bin");
    MessageDigest sha = newSha256();
    List<String> parts = new ArrayList<>();
    CRC32C part = new CRC32C();
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        assertThat(tracker).isNotNull();
        byte[] slice = new byte[MIB];
        long written = 0;
        while (written < size) {
          int length = (int) Math.min(MIB, size - written);
          new Random(written).nextBytes(slice);
          writeFully(channel, ByteBuffer.wrap(slice, 0, length));
          sha.update(slice, 0, length);
          part.update(slice, 0, length);
          written += length;
          if (written % (2 * MIB) == 0 || written == size) {
            parts.add(String.format("%08x", part.getValue()));
            part.reset();
          }
          tracker.written(written);
        }
        tracker.finished();
      }

      TrailingHashes.Digests digests = session.digests(file);

      assertThat(parts).hasSize(33);
      assertThat(digests)
          .isEqualTo(
              new TrailingHashes.Digests(size, HexFormat.of().formatHex(sha.digest()), parts));
    }
  }

  @Test
  void digestsAreFoundUnderAnotherSpellingOfTheSamePath() throws IOException {
    byte[] data = randomBytes(5000, 3);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      Files.createDirectory(root.resolve("sub"));
      writeTracked(root.resolve("sub/../model.bin"), data, SLICE);

      assertThat(session.digests(root.resolve("model.bin")))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
    }
  }

  @Test
  void eachTrackerHashesOnTwoThreadsFromTheSessionsFactory() throws IOException {
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(root.resolve("a.bin"), randomBytes(1000, 4), SLICE);
      assertThat(threads.created()).hasSize(2);

      writeTracked(root.resolve("b.bin"), randomBytes(1000, 5), SLICE);
      assertThat(threads.created()).hasSize(4);
    }
  }

  // ---------------------------------------------------------------- which files are tracked

  @Test
  void aFileOutsideTheSessionRootGetsNoTracker() throws IOException {
    Path elsewhere = Files.createDirectory(dir.resolve("elsewhere"));
    Path sibling = Files.createDirectory(dir.resolve("root-sibling")); // root's name is a prefix
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      for (Path file :
          List.of(
              elsewhere.resolve("model.bin"),
              sibling.resolve("model.bin"),
              root.resolve("../outside.bin"))) {
        Files.write(file, new byte[10]);

        assertThat(TrailingHashes.track(file)).as("%s", file).isNull();
        assertThat(session.digests(file)).as("%s", file).isNull();
      }
    }
    assertThat(threads.created()).isEmpty();
  }

  @Test
  void withNoSessionOpenOnThisThreadNoFileIsTracked() throws IOException {
    Path file = Files.write(root.resolve("model.bin"), new byte[10]);

    assertThat(TrailingHashes.track(file)).isNull();

    TrailingHashes.open(root, threads).close();
    assertThat(TrailingHashes.track(file)).as("after the session closed").isNull();
    assertThat(threads.created()).isEmpty();
  }

  @Test
  void aSessionOpenOnAnotherThreadDoesNotTrackFilesWrittenOnThisOne() throws Exception {
    Path file = Files.write(root.resolve("model.bin"), new byte[10]);
    TrailingHashes.Session[] opened = new TrailingHashes.Session[1];
    Thread opener = new Thread(() -> opened[0] = TrailingHashes.open(root, threads));
    opener.start();
    opener.join();

    try {
      assertThat(TrailingHashes.track(file)).isNull();
    } finally {
      opened[0].close();
    }
    assertThat(threads.created()).isEmpty();
  }

  @Test
  void aFileNeverTrackedHasNoDigests() throws IOException {
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      Path file = Files.write(root.resolve("state.json"), new byte[] {'{', '}'});

      assertThat(session.digests(file)).isNull();
    }
  }

  // ---------------------------------------------------------------- unusable results

  @Test
  void aFileAppendedToAfterItsWriterFinishedHasNoDigests() throws IOException {
    Path file = root.resolve("model.bin");
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, randomBytes(MIB + 10, 6), SLICE);
      assertThat(session.digests(file)).as("before the change").isNotNull();

      Files.write(file, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);

      assertThat(session.digests(file)).isNull();
    }
  }

  @Test
  void aFileAppendedToAfterItsWriterFinishedHasNoDigestsEvenIfItsModificationTimeIsUnchanged()
      throws IOException {
    Path file = root.resolve("model.bin");
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, randomBytes(MIB + 10, 6), SLICE);
      assertThat(session.digests(file)).as("before the change").isNotNull();
      FileTime finished = Files.getLastModifiedTime(file);

      Files.write(file, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
      Files.setLastModifiedTime(file, finished); // as a coarse file system clock may leave it

      assertThat(session.digests(file)).isNull();
    }
  }

  @Test
  void aFileRewrittenWithAnotherSizeAfterItsWriterFinishedHasNoDigests() throws IOException {
    Path shorter = root.resolve("shorter.bin");
    Path longer = root.resolve("longer.bin");
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(shorter, randomBytes(MIB + 10, 7), SLICE);
      writeTracked(longer, randomBytes(1000, 8), SLICE);
      assertThat(session.digests(shorter)).as("before the change").isNotNull();
      assertThat(session.digests(longer)).as("before the change").isNotNull();

      Files.write(shorter, randomBytes(500, 9));
      Files.write(longer, randomBytes(2 * MIB, 10));

      assertThat(session.digests(shorter)).isNull();
      assertThat(session.digests(longer)).isNull();
    }
  }

  @Test
  void aFileReplacedByAnotherOfTheSameSizeAndModificationTimeHasNoDigests() throws IOException {
    Path file = root.resolve("model.bin");
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, randomBytes(MIB + 10, 11), SLICE);
      assertThat(session.digests(file)).as("before the change").isNotNull();
      Path other = Files.write(dir.resolve("other.bin"), randomBytes(MIB + 10, 12));
      // Same size and modification time: only the file's identity tells the two apart.
      Files.setLastModifiedTime(other, Files.getLastModifiedTime(file));

      Files.move(other, file, StandardCopyOption.REPLACE_EXISTING);

      assertThat(session.digests(file)).isNull();
    }
  }

  @Test
  void aFileRewrittenInPlaceWithTheSameSizeAndANewModificationTimeHasNoDigests()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(MIB + 10, 33);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, data, SLICE);
      assertThat(session.digests(file)).as("before the change").isNotNull();
      FileTime finished = Files.getLastModifiedTime(file);

      data[MIB / 2] ^= 1;
      Files.write(file, data);
      // However coarse the file system's clock, the change shows in the modification time.
      Files.setLastModifiedTime(file, FileTime.from(finished.toInstant().plusSeconds(1)));

      assertThat(session.digests(file)).isNull();
    }
  }

  @Test
  void aFileDeletedAfterItsWriterFinishedHasNoDigests() throws IOException {
    Path file = root.resolve("model.bin");
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, randomBytes(1000, 13), SLICE);
      assertThat(session.digests(file)).as("before the change").isNotNull();

      Files.delete(file);

      assertThat(session.digests(file)).isNull();
    }
  }

  @Test
  void aFileWhoseWriterFailedHasNoDigests() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(MIB + 10, 14);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        writeSlices(channel, tracker, data, SLICE);
        tracker.failed();
      }

      assertThat(session.digests(file)).isNull();
    }
    assertThat(threads.created()).hasSize(2).noneMatch(Thread::isAlive);
  }

  @Test
  void aFileWhoseWriterReportedFewerBytesThanItWroteHasNoDigests() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(MIB + 10, 15);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        writeFully(channel, ByteBuffer.wrap(data));
        tracker.written(MIB);
        tracker.finished();
      }

      assertThat(session.digests(file)).isNull();
    }
  }

  @Test
  void aFileWhoseWriterNeverFinishedHasNoDigestsAndAskingDoesNotWait() throws IOException {
    Path file = root.resolve("model.bin");
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        writeSlices(channel, tracker, randomBytes(MIB + 10, 16), SLICE);
      }

      assertThat(assertTimeoutPreemptively(Duration.ofSeconds(60), () -> session.digests(file)))
          .isNull();
    }
  }

  // ---------------------------------------------------------------- tracking a path again

  @Test
  void trackingThePathAgainCancelsTheFirstTrackerAndTheDigestsDescribeTheSecondWrite()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] first = randomBytes(2 * MIB + 3, 17);
    byte[] second = randomBytes(MIB + MIB / 2, 18);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker unfinished = TrailingHashes.track(file);
        writeSlices(channel, unfinished, first, SLICE); // neither finished() nor failed()
      }
      List<Thread> firstThreads = threads.created();

      writeTracked(file, second, SLICE);

      assertThat(firstThreads).hasSize(2).noneMatch(Thread::isAlive);
      assertThat(session.digests(file))
          .isEqualTo(
              new TrailingHashes.Digests(second.length, sha256(second), partCrc32cs(second, MIB)));
    }
  }

  @Test
  void trackingThePathAgainStopsTheFirstTrackersThreadsBeforeItReturns() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] first = randomBytes(MIB + 3, 34);
    byte[] second = randomBytes(2 * MIB + 3, 35);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      // Not truncated in between, so the first tracker's threads never see the file shrink: only
      // being cancelled ends them.
      try (FileChannel channel = FileChannel.open(file, CREATE_NEW, WRITE)) {
        TrailingHashes.Tracker unfinished = TrailingHashes.track(file);
        writeSlices(channel, unfinished, first, SLICE);
      }
      List<Thread> firstThreads = threads.created();
      try (FileChannel channel = FileChannel.open(file, WRITE)) {
        TrailingHashes.Tracker again = TrailingHashes.track(file);

        assertThat(firstThreads).hasSize(2).noneMatch(Thread::isAlive);
        writeSlices(channel, again, second, SLICE);
        again.finished();
      }

      assertThat(session.digests(file))
          .isEqualTo(
              new TrailingHashes.Digests(second.length, sha256(second), partCrc32cs(second, MIB)));
    }
  }

  @Test
  void aFinishedFileWrittenAgainGetsTheDigestsOfItsSecondContents() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] first = randomBytes(MIB + 1, 19);
    byte[] second = randomBytes(3 * MIB + 7, 20);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, first, SLICE);

      writeTracked(file, second, SLICE);

      assertThat(session.digests(file))
          .isEqualTo(
              new TrailingHashes.Digests(second.length, sha256(second), partCrc32cs(second, MIB)));
    }
  }

  // ---------------------------------------------------------------- closing

  @Test
  void afterCloseEveryTrackerThreadHasEndedIncludingThoseOfUnfinishedWriters() throws IOException {
    TrailingHashes.Session session = TrailingHashes.open(root, threads);
    try (FileChannel unfinished = openForWriting(root.resolve("unfinished.bin"));
        FileChannel untouched = openForWriting(root.resolve("untouched.bin"))) {
      writeTracked(root.resolve("finished.bin"), randomBytes(MIB + 10, 21), SLICE);
      TrailingHashes.Tracker partly = TrailingHashes.track(root.resolve("unfinished.bin"));
      writeSlices(unfinished, partly, randomBytes(2 * MIB, 22), SLICE);
      TrailingHashes.Tracker never = TrailingHashes.track(root.resolve("untouched.bin"));
      assertThat(never).isNotNull();
      assertThat(threads.created()).hasSize(6);
    } finally {
      session.close();
    }

    assertThat(threads.created()).hasSize(6).noneMatch(Thread::isAlive);
  }

  @Test
  void closingStopsHandingOutTrackersOnThisThread() throws IOException {
    Path file = Files.write(root.resolve("model.bin"), new byte[10]);
    TrailingHashes.Session session = TrailingHashes.open(root, threads);

    session.close();

    assertThat(TrailingHashes.track(file)).isNull();
  }

  // ---------------------------------------------------------------- a factory that fails

  @Test
  void aThreadFactoryThatThrowsMakesTrackReturnNull() throws IOException {
    Path file = root.resolve("model.bin");
    ThrowingThreadFactory refusing = new ThrowingThreadFactory(0);
    try (TrailingHashes.Session session = TrailingHashes.open(root, refusing)) {
      try (FileChannel channel = openForWriting(file)) {
        assertThat(TrailingHashes.track(file)).isNull();
        writeFully(channel, ByteBuffer.wrap(randomBytes(1000, 23)));
      }

      assertThat(session.digests(file)).isNull();
    }
    assertThat(refusing.created()).isEmpty();
  }

  @Test
  void aThreadFactoryThatThrowsOnTheSecondThreadMakesTrackReturnNullAndTheFirstThreadEnds()
      throws IOException {
    Path file = root.resolve("model.bin");
    ThrowingThreadFactory refusingSecond = new ThrowingThreadFactory(1);
    try (TrailingHashes.Session session = TrailingHashes.open(root, refusingSecond)) {
      try (FileChannel channel = openForWriting(file)) {
        assertThat(TrailingHashes.track(file)).isNull();
        assertThat(refusingSecond.created()).hasSize(1).noneMatch(Thread::isAlive);
        writeFully(channel, ByteBuffer.wrap(randomBytes(1000, 24)));
      }

      assertThat(session.digests(file)).isNull();
    }
  }

  // ---------------------------------------------------------------- end of writing

  @Test
  void afterEndWritingNoNewTrackerIsHandedOutButTheEarlierOneStillDeliversDigests()
      throws IOException {
    Path early = root.resolve("early.bin");
    Path late = Files.write(root.resolve("late.bin"), new byte[10]);
    byte[] data = randomBytes(2 * MIB + 99, 25);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(early)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(early);
        writeSlices(channel, tracker, data, SLICE / 2);

        session.endWriting();
        assertThat(TrailingHashes.track(late)).isNull();

        tracker.finished();
      }

      assertThat(session.digests(early))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
      assertThat(session.digests(late)).isNull();
    }
    assertThat(threads.created()).hasSize(2);
  }

  @Test
  void aWriterThatKeepsWritingAfterEndWritingStillGetsDigestsOfEverythingItReported()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(3 * MIB + 1, 26);
    int half = data.length / 2;
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        writeFully(channel, ByteBuffer.wrap(data, 0, half));
        tracker.written(half);

        session.endWriting();
        writeFully(channel, ByteBuffer.wrap(data, half, data.length - half));
        tracker.written(data.length);
        tracker.finished();
      }

      assertThat(session.digests(file))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
    }
  }

  // ---------------------------------------------------------------- describe with a session

  @Test
  void describeTakesUnchangedTrackedFilesFromTheSessionAndStartsNoHashingThreadsForThem()
      throws IOException {
    byte[] model = randomBytes(3 * MIB + 5, 27);
    byte[] optimizer = randomBytes(MIB + 1, 28);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      Map<String, Path> files = new LinkedHashMap<>();
      files.put("model.bin", writeTracked(root.resolve("model.bin"), model, SLICE));
      files.put("optimizer.bin", writeTracked(root.resolve("optimizer.bin"), optimizer, SLICE));
      int trackerThreads = threads.created().size();

      Map<String, CheckpointFile> described = FileHashes.describe(files, threads, session);

      assertThat(threads.created()).as("no hashing threads beyond the trackers'").hasSize(4);
      assertThat(trackerThreads).isEqualTo(4);
      assertThat(described)
          .containsExactly(
              Map.entry("model.bin", expectedEntry("model.bin", model)),
              Map.entry("optimizer.bin", expectedEntry("optimizer.bin", optimizer)));
    }
  }

  @Test
  void describeHashesUntrackedAndChangedFilesItselfAndTakesTheRestFromTheSession()
      throws IOException {
    byte[] model = randomBytes(3 * MIB + 5, 29);
    byte[] changed = randomBytes(MIB + 1, 30);
    byte[] appended = randomBytes(100, 31);
    byte[] state = randomBytes(200, 32);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      Map<String, Path> files = new LinkedHashMap<>();
      files.put("model.bin", writeTracked(root.resolve("model.bin"), model, SLICE));
      files.put("changed.bin", writeTracked(root.resolve("changed.bin"), changed, SLICE));
      Files.write(files.get("changed.bin"), appended, StandardOpenOption.APPEND);
      files.put("state.json", Files.write(root.resolve("state.json"), state));
      assertThat(threads.created()).hasSize(4);

      Map<String, CheckpointFile> described = FileHashes.describe(files, threads, session);

      assertThat(threads.created()).as("hashing threads for the other files").hasSizeGreaterThan(4);
      assertThat(threads.created()).noneMatch(Thread::isAlive);
      byte[] changedNow = concat(changed, appended);
      assertThat(described)
          .containsExactly(
              Map.entry("model.bin", expectedEntry("model.bin", model)),
              Map.entry("changed.bin", expectedEntry("changed.bin", changedNow)),
              Map.entry("state.json", expectedEntry("state.json", state)));
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Writes {@code data} to {@code file} as TensorFile does: tracked, in slices, then finished. */
  private static Path writeTracked(Path file, byte[] data, int slice) throws IOException {
    try (FileChannel channel = openForWriting(file)) {
      TrailingHashes.Tracker tracker = TrailingHashes.track(file);
      assertThat(tracker).as("tracker for %s", file).isNotNull();
      writeSlices(channel, tracker, data, slice);
      tracker.finished();
    }
    return file;
  }

  /** Writes {@code data} in slices, reporting the bytes written so far after each. */
  private static void writeSlices(
      FileChannel channel, TrailingHashes.Tracker tracker, byte[] data, int slice)
      throws IOException {
    for (int offset = 0; offset < data.length; offset += slice) {
      int length = Math.min(slice, data.length - offset);
      writeFully(channel, ByteBuffer.wrap(data, offset, length));
      tracker.written(offset + length);
    }
  }

  private static FileChannel openForWriting(Path file) throws IOException {
    return FileChannel.open(
        file,
        StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE);
  }

  private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
  }

  private static CheckpointFile expectedEntry(String name, byte[] data) {
    return new CheckpointFile(name, data.length, sha256(data), MIB, partCrc32cs(data, MIB));
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] both = new byte[a.length + b.length];
    System.arraycopy(a, 0, both, 0, a.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    return both;
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] data = new byte[size];
    new Random(seed).nextBytes(data);
    return data;
  }

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  /** Makes daemon threads and remembers each. */
  private static final class RecordingThreadFactory implements ThreadFactory {
    private final List<Thread> created = new ArrayList<>();

    @Override
    public synchronized Thread newThread(Runnable runnable) {
      Thread thread = new Thread(runnable, "test-trailing-" + created.size());
      thread.setDaemon(true);
      created.add(thread);
      return thread;
    }

    synchronized List<Thread> created() {
      return List.copyOf(created);
    }
  }

  /** Makes {@code allowed} threads (remembering each), then throws on every further request. */
  private static final class ThrowingThreadFactory implements ThreadFactory {
    private final int allowed;
    private final RecordingThreadFactory made = new RecordingThreadFactory();

    ThrowingThreadFactory(int allowed) {
      this.allowed = allowed;
    }

    @Override
    public synchronized Thread newThread(Runnable runnable) {
      if (made.created().size() >= allowed) {
        throw new IllegalStateException("no threads left");
      }
      return made.newThread(runnable);
    }

    List<Thread> created() {
      return made.created();
    }
  }
}

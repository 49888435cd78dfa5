package dev.kiln.checkpoint.internal;

import static dev.kiln.checkpoint.IndependentChecksums.partCrc32cs;
import static dev.kiln.checkpoint.IndependentChecksums.sha256;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.checkpoint.CheckpointFile;
import dev.kiln.checkpoint.DirectIo;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
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

  @Test
  void filesAreFollowedFromTheirFirstMebibyteOnAndAtMostTwoAtATime() {
    assertThat(TrailingHashes.START_BYTES).isEqualTo(MIB);
    assertThat(TrailingHashes.MAX_ACTIVE).isEqualTo(2);
  }

  // ---------------------------------------------------------------- digests of a followed file

  @Test
  void aFileWrittenInSlicesGetsItsSizeSha256AndPartCrc32csAsComputedIndependently()
      throws IOException {
    byte[] data = randomBytes(3 * MIB + MIB / 2 + 123, 1);
    Path file = root.resolve("model.bin");

    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, data, SLICE);

      TrailingHashes.Digests digests = session.digests(file);

      assertThat(session.isFollowed(file)).isTrue();
      assertThat(digests).isNotNull();
      assertThat(digests.size()).isEqualTo(data.length);
      assertThat(digests.sha256()).isEqualTo(sha256(data));
      assertThat(digests.partCrc32c()).isEqualTo(partCrc32cs(data, MIB)).hasSize(4);
    }
  }

  @Test
  void filesOfOneMebibyteAndAroundTheNextBlockBoundaryGetIndependentlyComputedDigests()
      throws IOException {
    int[] sizes = {MIB, MIB + 1, 2 * MIB - 1, 2 * MIB, 2 * MIB + 1};
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      for (int size : sizes) {
        byte[] data = randomBytes(size, 100 + size);
        Path file = root.resolve("file-" + size + ".bin");
        writeTracked(file, data, SLICE);

        // Waits for the file's thread, so the next file has a free one.
        TrailingHashes.Digests digests = session.digests(file);

        assertThat(digests)
            .as("digests of %d bytes", size)
            .isEqualTo(new TrailingHashes.Digests(size, sha256(data), partCrc32cs(data, MIB)));
      }
    }
    assertThat(threads.created()).hasSize(sizes.length);
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
          tracker.write(channel, ByteBuffer.wrap(slice, 0, length));
          sha.update(slice, 0, length);
          part.update(slice, 0, length);
          written += length;
          if (written % (2 * MIB) == 0 || written == size) {
            parts.add(String.format("%08x", part.getValue()));
            part.reset();
          }
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
  void aFileTrackedUnderAnotherSpellingOfItsPathIsFollowedAndFoundUnderEither() throws IOException {
    byte[] data = randomBytes(MIB + 5000, 3);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      Files.createDirectory(root.resolve("sub"));
      writeTracked(root.resolve("sub/../model.bin"), data, SLICE);

      TrailingHashes.Digests expected =
          new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB));
      assertThat(session.isFollowed(root.resolve("model.bin"))).isTrue();
      assertThat(session.digests(root.resolve("model.bin"))).isEqualTo(expected);
      assertThat(session.isFollowed(root.resolve("sub/../model.bin"))).isTrue();
      assertThat(session.digests(root.resolve("sub/../model.bin"))).isEqualTo(expected);
    }
  }

  @Test
  void theListenerHearsOfAFileEachTimeItHasGrownByAMebibyteAndWhenItIsFinished()
      throws IOException {
    Path file = root.resolve("model.bin");
    List<Path> heard = new ArrayList<>();
    List<Long> sizes = new ArrayList<>();
    int slice = 3 * MIB / 4;
    byte[] data = randomBytes(4 * MIB + 100, 63);
    try (TrailingHashes.Session session =
        TrailingHashes.open(
            root,
            threads,
            grown -> {
              heard.add(grown);
              sizes.add(sizeOf(grown));
            })) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        for (int offset = 0; offset < data.length; offset += slice) {
          tracker.write(
              channel, ByteBuffer.wrap(data, offset, Math.min(slice, data.length - offset)));
        }
        assertThat(sizes)
            .as("told after each write that crossed a MiB")
            .containsExactly(6L * MIB / 4, 9L * MIB / 4, 12L * MIB / 4, 4L * MIB + 100);
        tracker.finished();
      }
    }

    assertThat(TrailingHashes.FLUSH_BYTES).isEqualTo(MIB);
    assertThat(heard).hasSize(5).containsOnly(file.toAbsolutePath());
    assertThat(sizes).last().as("told once more when finished").isEqualTo(4L * MIB + 100);
  }

  @Test
  void aFileExpectedToReachAMebibyteIsFollowedBeforeItsFirstBlockIsFull() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(3 * MIB + 7, 66);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file, data.length);
        assertThat(threads.created())
            .as("started before any byte is written (hashing, and writing where direct)")
            .hasSize(DirectIo.threadsPerFollowedFile(root));
        writeSlices(channel, tracker, data, SLICE);
        tracker.finished();
      }

      assertThat(threads.created()).hasSize(DirectIo.threadsPerFollowedFile(root));
      assertThat(Files.readAllBytes(file)).isEqualTo(data);
      assertThat(session.isUnchanged(file)).isTrue();
      assertThat(session.digests(file))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
    }
  }

  // ---------------------------------------------------------------- direct I/O

  @Test
  void aFileFollowedFromItsStartIsWrittenFromItsBlocksByAThreadOfItsOwnNotThroughTheChannel()
      throws IOException {
    assumeTrue(DirectIo.isUsedIn(root), "no direct I/O here");
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(5 * MIB + 7, 80);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        long directBefore = TrailingHashes.DIRECT_BYTES.get();
        TrailingHashes.Tracker tracker = TrailingHashes.track(file, data.length);
        for (int offset = 0; offset < data.length; offset += SLICE) {
          tracker.write(
              channel, ByteBuffer.wrap(data, offset, Math.min(SLICE, data.length - offset)));
        }
        assertThat(channel.position()).as("nothing written through the channel").isZero();
        tracker.finished();
        assertThat(TrailingHashes.DIRECT_BYTES.get() - directBefore)
            .as("every full block written with O_DIRECT")
            .isEqualTo(5L * MIB);
      }

      assertThat(threads.created()).as("a hashing and a writing thread").hasSize(2);
      assertThat(Files.readAllBytes(file)).isEqualTo(data);
      assertThat(session.isUnchanged(file)).isTrue();
      assertThat(session.digests(file))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
    }
    assertThat(threads.created()).noneMatch(Thread::isAlive);
  }

  @Test
  void aSessionOpenedWithoutDirectIoWritesThroughTheChannelOnOneThread() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(3 * MIB + 9, 87);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads, f -> {}, false)) {
      assertThat(writeFromStart(file, data))
          .as("written through the channel")
          .isEqualTo(data.length);

      assertThat(threads.created()).as("a hashing thread only").hasSize(1);
      assertThat(session.digests(file))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
    }
  }

  @Test
  void directIoIsForLocalFileSystemsOnly() {
    assumeTrue(System.getProperty("os.name", "").startsWith("Linux"), "Linux only");
    assumeTrue(TrailingHashes.DIRECT_IO, "direct I/O turned off");

    assertThat(TrailingHashes.directIoSuits(Path.of("/proc"))).as("procfs").isFalse();
    assertThat(TrailingHashes.directIoSuits(root.resolve("missing"))).as("no directory").isFalse();
    Path shm = Path.of("/dev/shm");
    if (Files.isDirectory(shm)) {
      assertThat(TrailingHashes.directIoSuits(shm)).as("tmpfs").isTrue();
    }
  }

  @Test
  @Timeout(30) // the session is this thread's: no preemptive timeout
  void blocksLeftByAWritingThreadThatNeverRunsAreWrittenByTheWriterAndTheFileIsComplete()
      throws IOException {
    assumeTrue(DirectIo.isUsedIn(root), "no direct I/O here");
    Path file = root.resolve("model.bin");
    byte[] data =
        randomBytes((TrailingHashes.RING + 3) * MIB + 3, 81); // more blocks than the ring holds
    FailingThreadFactory broken = new FailingThreadFactory(Failure.NONE, Failure.NEVER_RUNS);
    try (TrailingHashes.Session session = TrailingHashes.open(root, broken)) {
      writeFromStart(file, data);

      assertThat(Files.readAllBytes(file)).isEqualTo(data);
      assertThat(session.isUnchanged(file)).isTrue();
      assertThat(session.digests(file))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
    }
    assertThat(broken.requests()).as("a hashing and a writing thread asked for").isEqualTo(2);
  }

  @Test
  @Timeout(30)
  void aWritingThreadThatNeverGetsToRunLeavesTheWritesToTheWriterAfterASecond() throws Exception {
    assumeTrue(DirectIo.isUsedIn(root), "no direct I/O here");
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes((TrailingHashes.RING + 4) * MIB + 1, 88);
    // The factory's threads wait for one pool thread, which the hashing task keeps busy: the
    // writing task only runs once the file is hashed.
    ExecutorService single = Executors.newSingleThreadExecutor();
    ThreadFactory queued = queuedOn(single);
    try (TrailingHashes.Session session = TrailingHashes.open(root, queued)) {
      writeFromStart(file, data);

      assertHoldsWithItsDigests(session, file, data);
    } finally {
      single.shutdownNow();
    }
  }

  @Test
  @Timeout(30)
  void aHashingThreadThatNeverGetsToRunLeavesTheFileUnfollowedAfterASecond() throws Exception {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes((TrailingHashes.RING + 4) * MIB + 1, 89);
    // The factory's threads wait for one pool thread, which something else keeps busy meanwhile.
    ExecutorService single = Executors.newSingleThreadExecutor();
    CountDownLatch busy = new CountDownLatch(1);
    single.submit(
        () -> {
          busy.await();
          return null;
        });
    ThreadFactory queued = queuedOn(single);
    Path small = root.resolve("small.bin");
    byte[] fewBlocks =
        randomBytes(3 * MIB, 90); // fewer blocks than the ring: the writer never waits
    try (TrailingHashes.Session session = TrailingHashes.open(root, queued, f -> {}, false)) {
      writeFromStart(file, data);
      writeFromStart(small, fewBlocks);

      assertThat(Files.readAllBytes(file)).isEqualTo(data);
      assertThat(session.digests(file)).as("not followed: the store hashes it").isNull();
      assertThat(Files.readAllBytes(small)).isEqualTo(fewBlocks);
      assertThat(session.digests(small)).as("given up on when asked for").isNull();
    } finally {
      busy.countDown();
      single.shutdown();
    }
  }

  @Test
  void aWritingThreadTheFactoryRefusesLeavesTheFileToBeWrittenThroughTheChannel()
      throws IOException {
    assumeTrue(DirectIo.isUsedIn(root), "no direct I/O here");
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(3 * MIB + 3, 82);
    FailingThreadFactory refusing = new FailingThreadFactory(Failure.NONE, Failure.THROW);
    try (TrailingHashes.Session session = TrailingHashes.open(root, refusing)) {
      assertThat(writeFromStart(file, data))
          .as("written through the channel")
          .isEqualTo(data.length);

      assertHoldsWithItsDigests(session, file, data);
    }
    assertThat(refusing.requests()).as("a hashing and a writing thread asked for").isEqualTo(2);
  }

  @Test
  @Timeout(30)
  void aFailedDirectWriteIsThrownToTheWriterAndTheFileGetsNoDigests() throws IOException {
    assumeTrue(DirectIo.isUsedIn(root), "no direct I/O here");
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(7 * MIB + 3, 84);
    FailingThreadFactory failing = new FailingThreadFactory(Failure.NONE, Failure.INTERRUPTED);
    try (TrailingHashes.Session session = TrailingHashes.open(root, failing)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file, data.length);
        assertThatThrownBy(() -> writeSlices(channel, tracker, data, SLICE))
            .isInstanceOf(InterruptedIOException.class)
            .hasMessageContaining(file.toString())
            .satisfies(
                e ->
                    assertThat(e.getCause())
                        .as("the writing thread's failure")
                        .isInstanceOfAny(
                            ClosedByInterruptException.class, InterruptedIOException.class));
        tracker.failed();
      }

      assertThat(session.isUnchanged(file)).isFalse();
      assertThat(session.digests(file)).isNull();
    }
    assertThat(Thread.currentThread().isInterrupted())
        .as("the writer was not interrupted")
        .isFalse();
  }

  @Test
  void anInterruptedWriterFailsAtItsNextWriteAndKeepsWhatItWroteBefore() throws IOException {
    assumeTrue(DirectIo.isUsedIn(root), "no direct I/O here");
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(5 * MIB, 85);
    int before = 2 * MIB + MIB / 2;
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file, data.length);
        writeSlices(channel, tracker, data, 0, before, SLICE);
        Thread.currentThread().interrupt();
        try {
          assertThatThrownBy(() -> tracker.write(channel, ByteBuffer.wrap(data, before, 10)))
              .isInstanceOf(InterruptedIOException.class);
          tracker.failed();
          assertThat(Thread.currentThread().isInterrupted()).as("still interrupted").isTrue();
        } finally {
          Thread.interrupted();
        }
      }

      assertThat(Files.readAllBytes(file)).isEqualTo(Arrays.copyOf(data, before));
    }
    assertThat(threads.created()).hasSize(2).noneMatch(Thread::isAlive);
  }

  @Test
  void closingTheSessionOnAnUnfinishedDirectFileEndsItsThreads() throws IOException {
    assumeTrue(DirectIo.isUsedIn(root), "no direct I/O here");
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(3 * MIB, 86);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file, data.length);
        writeSlices(channel, tracker, data, SLICE);
      }
      session.close(); // the store's, when its writer throws

      assertThat(session.digests(file)).isNull();
    }
    assertThat(threads.created()).hasSize(2).noneMatch(Thread::isAlive);
  }

  @Test
  void aWriterThatFailsPartWayLeavesEveryByteItWroteInAFileWrittenDirectly() throws IOException {
    assumeTrue(DirectIo.isUsedIn(root), "no direct I/O here");
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(5 * MIB, 83);
    int before = 2 * MIB + MIB / 2;
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file, data.length);
        writeSlices(channel, tracker, data, 0, before, SLICE);
        tracker.failed(); // as TensorFile does when an array cannot be read
      }

      assertThat(Files.readAllBytes(file)).isEqualTo(Arrays.copyOf(data, before));
      assertThat(session.digests(file)).isNull();
    }
    assertThat(threads.created()).hasSize(2).noneMatch(Thread::isAlive);
  }

  @Test
  void aFileExpectedToStayUnderAMebibyteIsFollowedOnlyOnceItsFirstBlockIsFull() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(2 * MIB, 67);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file, 1000);
        tracker.write(channel, ByteBuffer.wrap(data, 0, MIB - 1));
        assertThat(threads.created()).isEmpty();
        tracker.write(channel, ByteBuffer.wrap(data, MIB - 1, MIB + 1));
        assertThat(threads.created()).hasSize(1);
        tracker.finished();
      }

      assertThat(session.digests(file).sha256()).isEqualTo(sha256(data));
    }
  }

  @Test
  void aThreadFactoryThatThrowsForAnEarlyStartLeavesTheFileUnfollowedAndTheWriterCarriesOn()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(3 * MIB + 1, 68);
    FailingThreadFactory refusing = new FailingThreadFactory(Failure.THROW);
    try (TrailingHashes.Session session = TrailingHashes.open(root, refusing)) {
      writeFromStart(file, data);

      assertThat(Files.readAllBytes(file)).isEqualTo(data);
      assertThat(session.isFollowed(file)).isFalse();
      assertThat(session.digests(file)).isNull();
    }
    assertThat(refusing.requests()).as("asked once").isEqualTo(1);
  }

  @Test
  void aSmallFileThatIsNotFollowedIsStillToldWhenFinished() throws IOException {
    Path file = root.resolve("small.bin");
    List<Path> heard = new ArrayList<>();
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads, heard::add)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        tracker.write(channel, ByteBuffer.wrap(randomBytes(1000, 65)));
        assertThat(heard).isEmpty();
        tracker.finished();
      }
      assertThat(session.isFollowed(file)).isFalse();
    }

    assertThat(heard).containsExactly(file.toAbsolutePath());
  }

  @Test
  void theFileHoldsTheBytesThatWereHashedThoughTheSourceChangesRightAfterEachWrite()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(2 * MIB + 5, 64);
    byte[] source = data.clone();
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        for (int offset = 0; offset < source.length; offset += SLICE) {
          int length = Math.min(SLICE, source.length - offset);
          tracker.write(channel, ByteBuffer.wrap(source, offset, length));
          Arrays.fill(source, offset, offset + length, (byte) 0); // as a training step might
        }
        tracker.finished();
      }

      assertHoldsWithItsDigests(session, file, data);
    }
  }

  // ---------------------------------------------------------------- when a thread follows a file

  @Test
  void aFileGetsOneThreadFromTheSessionsFactoryWhenItsFirstMebibyteIsWrittenAndNoneBefore()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(3 * MIB, 4);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        assertThat(tracker).isNotNull();
        tracker.write(channel, ByteBuffer.wrap(data, 0, MIB - 1));
        assertThat(threads.created()).as("below 1 MiB").isEmpty();
        assertThat(session.isFollowed(file)).as("below 1 MiB").isFalse();

        tracker.write(channel, ByteBuffer.wrap(data, MIB - 1, 1));
        assertThat(threads.created()).as("at 1 MiB").hasSize(1);
        assertThat(threads.created().get(0).isAlive()).as("started").isTrue();
        assertThat(session.isFollowed(file)).as("at 1 MiB").isTrue();

        tracker.write(channel, ByteBuffer.wrap(data, MIB, data.length - MIB));
        tracker.finished();
      }

      assertThat(session.digests(file))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
      assertThat(threads.created()).as("one thread for the whole file").hasSize(1);

      writeTracked(root.resolve("optimizer.bin"), randomBytes(MIB + 1, 5), SLICE);
      assertThat(threads.created()).as("one more for the next file").hasSize(2);
    }
  }

  @Test
  void filesUnderOneMebibyteAreNotFollowedAndHaveNoDigests() throws IOException {
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      for (int size : new int[] {0, 1, MIB - 1}) {
        Path file =
            writeTracked(root.resolve("file-" + size + ".bin"), randomBytes(size, 6), SLICE);

        assertThat(session.isFollowed(file)).as("%d bytes followed", size).isFalse();
        assertThat(session.digests(file)).as("digests of %d bytes", size).isNull();
      }
    }
    assertThat(threads.created()).isEmpty();
  }

  @Test
  void whileTwoFilesAreFollowedAThirdWrittenMeanwhileIsNot() throws IOException {
    int files = TrailingHashes.MAX_ACTIVE + 1;
    List<Path> paths = new ArrayList<>();
    List<byte[]> contents = new ArrayList<>();
    List<FileChannel> channels = new ArrayList<>();
    List<TrailingHashes.Tracker> trackers = new ArrayList<>();
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try {
        for (int i = 0; i < files; i++) {
          Path file = root.resolve("file-" + i + ".bin");
          paths.add(file);
          contents.add(randomBytes(2 * MIB + i, 10 + i));
          channels.add(openForWriting(file));
          trackers.add(TrailingHashes.track(file));
        }
        // Every file passes 1 MiB before any is finished.
        for (int i = 0; i < files; i++) {
          writeSlices(channels.get(i), trackers.get(i), contents.get(i), 0, MIB + 7, SLICE);
        }
        assertThat(threads.created()).hasSize(TrailingHashes.MAX_ACTIVE).allMatch(Thread::isAlive);
        for (int i = 0; i < files; i++) {
          byte[] data = contents.get(i);
          writeSlices(channels.get(i), trackers.get(i), data, MIB + 7, data.length, SLICE);
        }
        assertThat(threads.created()).as("none later either").hasSize(TrailingHashes.MAX_ACTIVE);
      } finally {
        for (FileChannel channel : channels) {
          channel.close();
        }
      }
      for (TrailingHashes.Tracker tracker : trackers) {
        tracker.finished();
      }

      for (int i = 0; i < files; i++) {
        byte[] data = contents.get(i);
        boolean followed = i < TrailingHashes.MAX_ACTIVE;
        assertThat(session.isFollowed(paths.get(i))).as("file %d followed", i).isEqualTo(followed);
        assertThat(session.digests(paths.get(i)))
            .as("digests of file %d", i)
            .isEqualTo(
                followed
                    ? new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB))
                    : null);
      }
    }
    assertThat(threads.created()).noneMatch(Thread::isAlive);
  }

  @Test
  void aFileWrittenAfterTheFollowedOnesWereHashedIsFollowedToo() throws IOException {
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      List<Path> earlier = new ArrayList<>();
      for (int i = 0; i < TrailingHashes.MAX_ACTIVE; i++) {
        earlier.add(writeTracked(root.resolve("file-" + i + ".bin"), randomBytes(MIB, i), SLICE));
      }
      for (Path file : earlier) {
        assertThat(session.digests(file)).as("%s", file).isNotNull(); // waits for its thread
      }
      byte[] data = randomBytes(MIB + 3, 20);

      Path later = writeTracked(root.resolve("later.bin"), data, SLICE);

      assertThat(session.isFollowed(later)).isTrue();
      assertThat(session.digests(later))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
      assertThat(threads.created()).hasSize(TrailingHashes.MAX_ACTIVE + 1);
    }
  }

  // ---------------------------------------------------------------- a factory that fails

  @Test
  void aThreadFactoryThatThrowsLeavesTheFileUnfollowedAndTheWriterCarriesOn() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(3 * MIB + 1, 23);
    FailingThreadFactory refusing = new FailingThreadFactory(Failure.THROW);
    try (TrailingHashes.Session session = TrailingHashes.open(root, refusing)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        assertThat(tracker).isNotNull();
        writeSlices(channel, tracker, data, SLICE);
        tracker.finished();
      }

      assertThat(Files.readAllBytes(file)).isEqualTo(data);
      assertThat(session.isFollowed(file)).isFalse();
      assertThat(session.digests(file)).isNull();
    }
    assertThat(refusing.requests()).as("asked once, not on every later slice").isEqualTo(1);
    assertThat(refusing.created()).isEmpty();
  }

  @Test
  void aThreadWhoseStartThrowsOutOfMemoryErrorLeavesTheFileUnfollowedAndNothingRunning()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(3 * MIB + 1, 24);
    FailingThreadFactory exhausted = new FailingThreadFactory(Failure.UNSTARTABLE);
    try (TrailingHashes.Session session = TrailingHashes.open(root, exhausted)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        assertThat(tracker).isNotNull();
        // Caught here, so that an escaping OutOfMemoryError fails this test and not the run.
        assertThatCode(() -> writeSlices(channel, tracker, data, SLICE)).doesNotThrowAnyException();
        tracker.finished();
      }

      assertThat(Files.readAllBytes(file)).isEqualTo(data);
      assertThat(session.isFollowed(file)).isFalse();
      assertThat(session.digests(file)).isNull();
    }
    assertThat(exhausted.requests()).isEqualTo(1);
    assertThat(exhausted.unstartable())
        .hasSize(1)
        .allMatch(thread -> thread.getState() == Thread.State.NEW);
    assertThat(exhausted.created()).isEmpty();
  }

  @Test
  @Timeout(60) // on this thread: the session is per thread; a hung writer fails the test
  void aFactoryThreadThatNeverRunsTheTrackerDoesNotHoldUpTheWriter() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data =
        randomBytes(
            (TrailingHashes.RING + 4) * MIB + 3,
            71); // more blocks than the writer may hold unhashed
    FailingThreadFactory broken = new FailingThreadFactory(Failure.NEVER_RUNS);
    try (TrailingHashes.Session session = TrailingHashes.open(root, broken)) {
      writeTracked(file, data, SLICE);

      assertThat(Files.readAllBytes(file)).isEqualTo(data);
      assertThat(session.isUnchanged(file)).isFalse();
      assertThat(session.digests(file)).isNull();
    }
  }

  @Test
  void threadsThatCouldNotBeMadeOrStartedDoNotCountAgainstTheFilesFollowedAtOnce()
      throws IOException {
    FailingThreadFactory flaky =
        new FailingThreadFactory(Failure.THROW, Failure.UNSTARTABLE, Failure.NULL);
    try (TrailingHashes.Session session = TrailingHashes.open(root, flaky)) {
      for (int i = 0; i < 3; i++) {
        Path refused = root.resolve("refused-" + i + ".bin");
        byte[] data = randomBytes(MIB, i);
        // Caught here, so that an escaping OutOfMemoryError fails this test and not the run.
        assertThatCode(() -> writeTracked(refused, data, MIB)).doesNotThrowAnyException();
        assertThat(session.isFollowed(refused)).as("%s", refused).isFalse();
      }
      int files = TrailingHashes.MAX_ACTIVE + 1;
      List<Path> paths = new ArrayList<>();
      List<FileChannel> channels = new ArrayList<>();
      List<TrailingHashes.Tracker> trackers = new ArrayList<>();
      try {
        for (int i = 0; i < files; i++) {
          Path file = root.resolve("file-" + i + ".bin");
          paths.add(file);
          channels.add(openForWriting(file));
          trackers.add(TrailingHashes.track(file));
          writeSlices(channels.get(i), trackers.get(i), randomBytes(MIB, 30 + i), MIB);
        }
      } finally {
        for (FileChannel channel : channels) {
          channel.close();
        }
      }
      for (TrailingHashes.Tracker tracker : trackers) {
        tracker.finished();
      }

      for (int i = 0; i < files; i++) {
        assertThat(session.isFollowed(paths.get(i)))
            .as("file %d followed", i)
            .isEqualTo(i < TrailingHashes.MAX_ACTIVE);
      }
    }
    assertThat(flaky.created()).hasSize(TrailingHashes.MAX_ACTIVE).noneMatch(Thread::isAlive);
  }

  // ---------------------------------------------------------------- unusable results

  @Test
  void aFileWhoseWriterFailedHasNoDigestsAndItsThreadEnds() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(MIB + 10, 14);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        writeSlices(channel, tracker, data, SLICE);
        tracker.failed();
      }

      assertThat(session.isFollowed(file)).isTrue();
      assertThat(session.digests(file)).isNull();
      assertThat(threads.created()).as("before close").hasSize(1).noneMatch(Thread::isAlive);
    }
  }

  @Test
  void aWriterThatAlsoWroteAroundItsTrackerGetsDigestsOfTheTrackedBytesOnlyAndNoSeal()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(MIB + 10, 15);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        tracker.write(channel, ByteBuffer.wrap(data, 0, MIB));
        writeFully(channel, ByteBuffer.wrap(data, MIB, 10));
        tracker.finished();
      }

      byte[] tracked = Arrays.copyOf(data, MIB);
      assertThat(session.digests(file))
          .isEqualTo(new TrailingHashes.Digests(MIB, sha256(tracked), partCrc32cs(tracked, MIB)));
      assertThat(session.isUnchanged(file)).as("describe hashes the whole file itself").isFalse();
    }
  }

  @Test
  void aFileTruncatedBeforeItsWriterFinishedIsNotSealed() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(MIB + 10, 16);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        writeSlices(channel, tracker, data, SLICE);
        channel.truncate(MIB);
        tracker.finished();
      }

      assertThat(session.isUnchanged(file)).isFalse();
      assertThat(threads.created()).hasSize(1);
    }
  }

  @Test
  void aFileWhoseWriterNeverFinishedHasNoDigestsAndAskingDoesNotWait() throws IOException {
    Path file = root.resolve("model.bin");
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        writeSlices(channel, tracker, randomBytes(MIB + 10, 17), SLICE);
      }

      assertThat(session.isFollowed(file)).isTrue();
      assertThat(assertTimeoutPreemptively(Duration.ofSeconds(60), () -> session.digests(file)))
          .isNull();
    }
    assertThat(threads.created()).hasSize(1).noneMatch(Thread::isAlive);
  }

  @Test
  void digestsDescribeTheBytesTheTrackerHashedEvenAfterTheFileChangedWhichDescribeChecks()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(MIB + 10, 18);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, data, SLICE);
      TrailingHashes.Digests written = session.digests(file);

      Files.write(file, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);

      assertThat(written)
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
      assertThat(session.digests(file)).isEqualTo(written);
      assertThat(session.isFollowed(file)).isTrue();
    }
  }

  // ---------------------------------------------------------------- tracking a path again

  @Test
  void trackingThePathAgainCancelsTheFirstTrackerAndTheDigestsDescribeTheSecondWrite()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] first = randomBytes(2 * MIB + 3, 19);
    byte[] second = randomBytes(MIB + MIB / 2, 20);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker unfinished = TrailingHashes.track(file);
        writeSlices(channel, unfinished, first, SLICE); // neither finished() nor failed()
      }
      List<Thread> firstThreads = threads.created();

      writeTracked(file, second, SLICE);

      assertThat(firstThreads).hasSize(1).noneMatch(Thread::isAlive);
      assertThat(session.digests(file))
          .isEqualTo(
              new TrailingHashes.Digests(second.length, sha256(second), partCrc32cs(second, MIB)));
      assertThat(threads.created()).hasSize(2);
    }
  }

  @Test
  void trackingThePathAgainStopsTheFirstTrackersThreadBeforeItReturns() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] first = randomBytes(MIB + 3, 34);
    byte[] second = randomBytes(2 * MIB + 3, 35);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      // Not truncated in between: the first tracker's thread waits for more bytes or the end of
      // the writer, and only being cancelled ends it.
      try (FileChannel channel = FileChannel.open(file, CREATE_NEW, WRITE)) {
        TrailingHashes.Tracker unfinished = TrailingHashes.track(file);
        writeSlices(channel, unfinished, first, SLICE);
      }
      List<Thread> firstThreads = threads.created();
      assertThat(firstThreads).hasSize(1).allMatch(Thread::isAlive);
      try (FileChannel channel = FileChannel.open(file, WRITE)) {
        TrailingHashes.Tracker again = TrailingHashes.track(file);

        assertThat(firstThreads).noneMatch(Thread::isAlive);
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
    byte[] first = randomBytes(MIB + 1, 21);
    byte[] second = randomBytes(3 * MIB + 7, 22);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, first, SLICE);

      writeTracked(file, second, SLICE);

      assertThat(session.digests(file))
          .isEqualTo(
              new TrailingHashes.Digests(second.length, sha256(second), partCrc32cs(second, MIB)));
    }
  }

  @Test
  void aFollowedFileWrittenAgainWithLessThanOneMebibyteIsNoLongerFollowed() throws IOException {
    Path file = root.resolve("model.bin");
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, randomBytes(2 * MIB, 25), SLICE);
      assertThat(session.isFollowed(file)).as("the first write").isTrue();

      writeTracked(file, randomBytes(1000, 26), SLICE);

      assertThat(session.isFollowed(file)).isFalse();
      assertThat(session.digests(file)).isNull();
    }
  }

  @Test
  void aTrackerReplacedByANewerOneForTheSamePathStartsNoThread() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(2 * MIB, 27);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker replaced = TrailingHashes.track(file);
        TrailingHashes.Tracker newer = TrailingHashes.track(file);

        writeSlices(channel, replaced, data, SLICE);
        assertThat(threads.created()).as("for the replaced tracker").isEmpty();
        channel.truncate(0);
        writeSlices(channel, newer, data, SLICE);
        newer.finished();
      }

      assertThat(threads.created()).hasSize(1);
      assertThat(session.digests(file))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
    }
  }

  // ---------------------------------------------------------------- closing

  @Test
  void afterCloseEveryTrackerThreadHasEndedIncludingThoseOfUnfinishedWriters() throws IOException {
    TrailingHashes.Session session = TrailingHashes.open(root, threads);
    Path unfinished = root.resolve("unfinished.bin");
    try (FileChannel partlyWritten = openForWriting(unfinished);
        FileChannel untouched = openForWriting(root.resolve("untouched.bin"))) {
      writeTracked(root.resolve("finished.bin"), randomBytes(MIB + 10, 28), SLICE);
      TrailingHashes.Tracker partly = TrailingHashes.track(unfinished);
      writeSlices(partlyWritten, partly, randomBytes(2 * MIB, 29), SLICE);
      TrailingHashes.Tracker never = TrailingHashes.track(root.resolve("untouched.bin"));
      assertThat(never).isNotNull();
      assertThat(threads.created()).hasSize(2);
      assertThat(threads.created().get(1).isAlive()).as("the unfinished writer's").isTrue();
    } finally {
      session.close();
    }

    assertThat(threads.created()).hasSize(2).noneMatch(Thread::isAlive);
    assertThat(session.digests(unfinished)).isNull();
  }

  @Test
  void closingStopsHandingOutTrackersOnThisThread() throws IOException {
    Path file = Files.write(root.resolve("model.bin"), new byte[10]);
    TrailingHashes.Session session = TrailingHashes.open(root, threads);

    session.close();

    assertThat(TrailingHashes.track(file)).isNull();
  }

  // ---------------------------------------------------------------- end of writing

  @Test
  void afterEndWritingNoNewTrackerIsHandedOutButTheEarlierOneStillDeliversDigests()
      throws IOException {
    Path early = root.resolve("early.bin");
    Path late = Files.write(root.resolve("late.bin"), new byte[10]);
    byte[] data = randomBytes(2 * MIB + 99, 30);
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
      assertThat(session.isFollowed(late)).isFalse();
      assertThat(session.digests(late)).isNull();
    }
    assertThat(threads.created()).hasSize(1);
  }

  @Test
  void aWriterThatPassesOneMebibyteOnlyAfterEndWritingIsStillFollowedToTheEnd() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(3 * MIB + 1, 31);
    int half = MIB / 2;
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(file)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
        writeSlices(channel, tracker, data, 0, half, SLICE);

        session.endWriting();
        writeSlices(channel, tracker, data, half, data.length, SLICE);
        tracker.finished();
      }

      assertThat(session.isFollowed(file)).isTrue();
      assertThat(session.digests(file))
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
    }
    assertThat(threads.created()).hasSize(1);
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
        assertThat(session.isFollowed(file)).as("%s", file).isFalse();
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
  void aSaveNestedInAnotherOnTheSameThreadHandsTrackingBackToTheOuterOneWhenItEnds()
      throws IOException {
    Path inner = Files.createDirectories(root.resolve("inner"));
    Path outerFile = Files.write(dir.resolve("outer.bin"), new byte[10]);
    Path innerFile = Files.write(inner.resolve("inner.bin"), new byte[10]);

    try (TrailingHashes.Session outer = TrailingHashes.open(dir, threads)) {
      try (TrailingHashes.Session nested = TrailingHashes.open(inner, threads)) {
        assertThat(TrailingHashes.track(innerFile)).isNotNull();
        assertThat(TrailingHashes.track(outerFile)).as("outside the nested root").isNull();
      }

      assertThat(TrailingHashes.track(outerFile)).as("the outer save again").isNotNull();
    }
    assertThat(TrailingHashes.track(outerFile)).isNull();
  }

  @Test
  void aTrackerThatPassesOneMebibyteAfterItsSessionClosedStartsNoThread() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(2 * MIB, 60);
    TrailingHashes.Session session = TrailingHashes.open(root, threads);
    try (FileChannel channel = openForWriting(file)) {
      TrailingHashes.Tracker tracker = TrailingHashes.track(file);

      session.close();
      writeSlices(channel, tracker, data, SLICE);
      tracker.finished();
    }

    assertThat(threads.created()).isEmpty();
    assertThat(session.isFollowed(file)).isFalse();
    assertThat(Files.readAllBytes(file)).isEqualTo(data);
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
  void aFileNeverTrackedIsNotFollowedAndHasNoDigests() throws IOException {
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      Path file = Files.write(root.resolve("state.json"), new byte[] {'{', '}'});

      assertThat(session.isFollowed(file)).isFalse();
      assertThat(session.digests(file)).isNull();
    }
  }

  // ---------------------------------------------------------------- describe with a session

  @Test
  void describeTakesAnUnchangedFollowedFilesChecksumsFromItsTrackerWithoutReadingIt()
      throws IOException {
    byte[] model = randomBytes(MIB, 40);
    RecordingThreadFactory describeThreads = new RecordingThreadFactory();
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      Map<String, Path> files =
          Map.of("model.bin", writeTracked(root.resolve("model.bin"), model, SLICE));
      assertThat(session.isFollowed(files.get("model.bin"))).isTrue();

      Map<String, CheckpointFile> described = FileHashes.describe(files, describeThreads, session);

      assertThat(described)
          .containsExactly(Map.entry("model.bin", expectedEntry("model.bin", model)));
      assertThat(describeThreads.created()).as("nothing to read or hash").isEmpty();
      assertThat(threads.created()).as("the tracker's").hasSize(1);
    }
  }

  @Test
  void describeRecordsUnchangedFollowedFilesAndUnfollowedOnesWithIndependentlyComputedChecksums()
      throws IOException {
    byte[] model = randomBytes(3 * MIB + 5, 41);
    byte[] optimizer = randomBytes(MIB + 1, 42);
    byte[] small = randomBytes(MIB - 1, 43);
    byte[] state = randomBytes(200, 44);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      Map<String, Path> files = new LinkedHashMap<>();
      files.put("model.bin", writeTracked(root.resolve("model.bin"), model, SLICE));
      files.put("optimizer.bin", writeTracked(root.resolve("optimizer.bin"), optimizer, SLICE));
      for (Path followed : files.values()) {
        assertThat(session.digests(followed)).as("%s", followed).isNotNull();
      }
      files.put("small.bin", writeTracked(root.resolve("small.bin"), small, SLICE));
      files.put("state.json", Files.write(root.resolve("state.json"), state));

      Map<String, CheckpointFile> described = FileHashes.describe(files, threads, session);

      assertThat(described)
          .containsExactly(
              Map.entry("model.bin", expectedEntry("model.bin", model)),
              Map.entry("optimizer.bin", expectedEntry("optimizer.bin", optimizer)),
              Map.entry("small.bin", expectedEntry("small.bin", small)),
              Map.entry("state.json", expectedEntry("state.json", state)));
      assertThat(threads.created()).noneMatch(Thread::isAlive);
    }
  }

  @Test
  void describeRecordsTheChecksumsOfTheBytesOfAFollowedFilePatchedInPlaceWithItsSizeKept()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(2 * MIB + 3, 45);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, data, SLICE);
      TrailingHashes.Digests tracked = session.digests(file); // the tracker is done with it
      assertThat(tracked)
          .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
      assertThat(session.isUnchanged(file)).as("before the patch").isTrue();

      // Right after the writer, within one tick of a coarse file system clock.
      byte[] patched = data.clone();
      patched[MIB + 17] ^= 0x40;
      try (FileChannel channel = FileChannel.open(file, WRITE)) {
        writeFully(channel, ByteBuffer.wrap(patched, MIB + 17, 1).slice(), MIB + 17);
      }
      assertThat(Files.size(file)).isEqualTo(data.length);
      assertThat(Files.readAllBytes(file)).isEqualTo(patched);
      assertThat(session.isUnchanged(file)).as("after the patch").isFalse();

      Map<String, CheckpointFile> described =
          FileHashes.describe(Map.of("model.bin", file), threads, session);

      assertThat(described.get("model.bin")).isEqualTo(expectedEntry("model.bin", patched));
      assertThat(described.get("model.bin").sha256()).isNotEqualTo(tracked.sha256());
    }
  }

  @Test
  void describeRecordsTheChecksumsOfAFollowedFileAppendedTo() throws IOException {
    Path file = root.resolve("model.bin");
    byte[] data = randomBytes(MIB + 10, 46);
    byte[] appended = randomBytes(100, 47);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, data, SLICE);
      assertThat(session.digests(file)).as("before the change").isNotNull();

      Files.write(file, appended, StandardOpenOption.APPEND);

      Map<String, CheckpointFile> described =
          FileHashes.describe(Map.of("model.bin", file), threads, session);

      assertThat(described.get("model.bin"))
          .isEqualTo(expectedEntry("model.bin", concat(data, appended)));
    }
  }

  @Test
  void aFinishedFileIsSealedWithAModificationTimeTenSecondsBackThatAnyLaterWriteMoves()
      throws IOException {
    Path file = root.resolve("model.bin");
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      Instant before = Instant.now();
      writeTracked(file, randomBytes(MIB + 10, 61), SLICE);

      FileTime sealed = Files.getLastModifiedTime(file);
      assertThat(sealed.toInstant())
          .isBefore(before.minusSeconds(8))
          .isAfter(before.minusSeconds(12));
      assertThat(session.isUnchanged(file)).isTrue();

      try (FileChannel channel = FileChannel.open(file, WRITE)) {
        writeFully(channel, ByteBuffer.wrap(new byte[] {7}), 5); // same size
      }

      assertThat(Files.getLastModifiedTime(file)).isNotEqualTo(sealed);
      assertThat(session.isUnchanged(file)).isFalse();
    }
  }

  @Test
  void filesSealedInTheSameSecondGetDistinctModificationTimes() throws IOException {
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      Path a = writeTracked(root.resolve("a.bin"), randomBytes(MIB + 10, 65), SLICE);
      Path b = writeTracked(root.resolve("b.bin"), randomBytes(MIB + 10, 66), SLICE);

      assertThat(Files.getLastModifiedTime(a)).isNotEqualTo(Files.getLastModifiedTime(b));
      assertThat(session.isUnchanged(a)).isTrue();
      assertThat(session.isUnchanged(b)).isTrue();
    }
  }

  @Test
  void aSealedFileWrittenAgainThroughAHardLinkIsNoLongerUnchanged() throws IOException {
    Path file = root.resolve("model.bin");
    Path link = root.resolve("link.bin");
    byte[] second = randomBytes(MIB + 10, 68);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, randomBytes(MIB + 10, 67), SLICE);
      Files.createLink(link, file);

      writeTracked(link, second, SLICE); // the same inode, the same size, sealed anew

      assertThat(Files.readAllBytes(file)).isEqualTo(second);
      assertThat(session.isUnchanged(file)).isFalse();
      assertThat(session.isUnchanged(link)).isTrue();
      assertThat(FileHashes.describe(Map.of("model.bin", file), threads, session))
          .containsExactly(Map.entry("model.bin", expectedEntry("model.bin", second)));
    }
  }

  @Test
  void aSealedFileReplacedByACopyOfAnotherWithItsAttributesIsNoLongerUnchanged()
      throws IOException {
    Path best = root.resolve("best.bin");
    Path latest = root.resolve("latest.bin");
    byte[] bestData = randomBytes(MIB + 10, 69);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(best, bestData, SLICE);
      writeTracked(latest, randomBytes(MIB + 10, 70), SLICE);

      Files.copy(
          best, latest, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);

      assertThat(session.isUnchanged(latest)).isFalse();
      assertThat(FileHashes.describe(Map.of("latest.bin", latest), threads, session))
          .containsExactly(Map.entry("latest.bin", expectedEntry("latest.bin", bestData)));
    }
  }

  @Test
  void describeRecordsTheChecksumsOfFollowedFilesRewrittenShorterOrLonger() throws IOException {
    Path shorter = root.resolve("shorter.bin");
    Path longer = root.resolve("longer.bin");
    byte[] shorterNow = randomBytes(500, 50);
    byte[] longerNow = randomBytes(2 * MIB + 1, 51);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(shorter, randomBytes(MIB + 10, 48), SLICE);
      writeTracked(longer, randomBytes(MIB + 10, 49), SLICE);
      assertThat(session.digests(shorter)).as("before the change").isNotNull();
      assertThat(session.digests(longer)).as("before the change").isNotNull();

      Files.write(shorter, shorterNow);
      Files.write(longer, longerNow);

      Map<String, Path> files = new LinkedHashMap<>();
      files.put("shorter.bin", shorter);
      files.put("longer.bin", longer);
      assertThat(FileHashes.describe(files, threads, session))
          .containsExactly(
              Map.entry("shorter.bin", expectedEntry("shorter.bin", shorterNow)),
              Map.entry("longer.bin", expectedEntry("longer.bin", longerNow)));
    }
  }

  @Test
  void describeRecordsTheChecksumsOfAFollowedFileReplacedByAnotherOfTheSameSizeAndSealedTime()
      throws IOException {
    Path file = root.resolve("model.bin");
    byte[] replacement = randomBytes(MIB + 10, 53);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      writeTracked(file, randomBytes(MIB + 10, 52), SLICE);
      assertThat(session.digests(file)).as("before the change").isNotNull();
      Path other = Files.write(dir.resolve("other.bin"), replacement);
      Files.setLastModifiedTime(other, Files.getLastModifiedTime(file));

      Files.move(other, file, StandardCopyOption.REPLACE_EXISTING);

      assertThat(FileHashes.describe(Map.of("model.bin", file), threads, session))
          .containsExactly(Map.entry("model.bin", expectedEntry("model.bin", replacement)));
    }
  }

  @Test
  void describeRecordsTheChecksumsOfFollowedFilesWhoseWriterFailedOrWroteAroundTheTracker()
      throws IOException {
    Path failed = root.resolve("failed.bin");
    Path underReported = root.resolve("under-reported.bin");
    byte[] failedData = randomBytes(2 * MIB + 1, 54);
    byte[] underReportedData = randomBytes(MIB + 10, 55);
    try (TrailingHashes.Session session = TrailingHashes.open(root, threads)) {
      try (FileChannel channel = openForWriting(failed)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(failed);
        writeSlices(channel, tracker, failedData, SLICE);
        tracker.failed();
      }
      try (FileChannel channel = openForWriting(underReported)) {
        TrailingHashes.Tracker tracker = TrailingHashes.track(underReported);
        tracker.write(channel, ByteBuffer.wrap(underReportedData, 0, MIB));
        writeFully(channel, ByteBuffer.wrap(underReportedData, MIB, 10));
        tracker.finished();
      }
      assertThat(session.isFollowed(failed)).isTrue();
      assertThat(session.isFollowed(underReported)).isTrue();

      Map<String, Path> files = new LinkedHashMap<>();
      files.put("failed.bin", failed);
      files.put("under-reported.bin", underReported);
      assertThat(FileHashes.describe(files, threads, session))
          .containsExactly(
              Map.entry("failed.bin", expectedEntry("failed.bin", failedData)),
              Map.entry(
                  "under-reported.bin", expectedEntry("under-reported.bin", underReportedData)));
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

  /** Writes {@code data} through {@code tracker} in slices. */
  private static void writeSlices(
      FileChannel channel, TrailingHashes.Tracker tracker, byte[] data, int slice)
      throws IOException {
    writeSlices(channel, tracker, data, 0, data.length, slice);
  }

  /** A factory whose threads only hand their task to {@code pool} and wait for it. */
  private static ThreadFactory queuedOn(ExecutorService pool) {
    return task -> {
      CompletableFuture<Future<?>> submitted = new CompletableFuture<>();
      Thread thread =
          new Thread(
              () -> {
                try {
                  submitted.join().get();
                } catch (InterruptedException | ExecutionException e) {
                  throw new IllegalStateException(e);
                }
              }) {
            @Override
            public synchronized void start() {
              // Queued in the order the threads are started, not in the order they get to run.
              submitted.complete(pool.submit(task));
              super.start();
            }
          };
      thread.setDaemon(true);
      return thread;
    };
  }

  /** {@code file} holds {@code data}, and the session's digests are those of {@code data}. */
  private static void assertHoldsWithItsDigests(
      TrailingHashes.Session session, Path file, byte[] data) throws IOException {
    assertThat(Files.readAllBytes(file)).isEqualTo(data);
    assertThat(session.digests(file))
        .isEqualTo(new TrailingHashes.Digests(data.length, sha256(data), partCrc32cs(data, MIB)));
  }

  /**
   * Writes {@code data} as {@code TensorFile} does, through a tracker told the size first (so
   * followed from the start, and written directly where the store would), and finishes it.
   *
   * @return the channel's position after the writes: 0 if every byte was written directly
   */
  private static long writeFromStart(Path file, byte[] data) throws IOException {
    try (FileChannel channel = openForWriting(file)) {
      TrailingHashes.Tracker tracker = TrailingHashes.track(file, data.length);
      writeSlices(channel, tracker, data, SLICE);
      long position = channel.position();
      tracker.finished();
      return position;
    }
  }

  /** Writes bytes {@code from} to {@code to} of {@code data} through the tracker, in slices. */
  private static void writeSlices(
      FileChannel channel, TrailingHashes.Tracker tracker, byte[] data, int from, int to, int slice)
      throws IOException {
    assertThat(channel.position()).as("written so far").isEqualTo(from);
    for (int offset = from; offset < to; offset += slice) {
      int length = Math.min(slice, to - offset);
      ByteBuffer bytes = ByteBuffer.wrap(data, offset, length).slice();
      tracker.write(channel, bytes);
      assertThat(bytes.hasRemaining()).as("all written").isFalse();
    }
  }

  private static long sizeOf(Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      throw new AssertionError(e);
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

  private static void writeFully(FileChannel channel, ByteBuffer buffer, long position)
      throws IOException {
    while (buffer.hasRemaining()) {
      channel.write(buffer, position + buffer.position());
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

  /** How {@link FailingThreadFactory} fails a request. */
  private enum Failure {
    /** Makes the thread as asked. */
    NONE,
    /** Returns a thread that interrupts itself before it runs its task. */
    INTERRUPTED,
    /** Throws from {@code newThread}. */
    THROW,
    /** Returns a thread whose {@code start()} throws OutOfMemoryError, as the JVM's does. */
    UNSTARTABLE,
    /** Returns null, as {@link ThreadFactory} allows for a rejected request. */
    NULL,
    /** Returns a thread that ends without running its task, as a failing wrapper's might. */
    NEVER_RUNS
  }

  /** Fails its first requests as scripted, then makes threads (remembering each). */
  private static final class FailingThreadFactory implements ThreadFactory {
    private final Deque<Failure> failures;
    private final RecordingThreadFactory made = new RecordingThreadFactory();
    private final List<Thread> unstartable = new ArrayList<>();
    private int requests;

    FailingThreadFactory(Failure... failures) {
      this.failures = new ArrayDeque<>(List.of(failures));
    }

    @Override
    public synchronized Thread newThread(Runnable runnable) {
      requests++;
      Failure failure = failures.poll();
      if (failure == null) {
        return made.newThread(runnable);
      }
      return switch (failure) {
        case NONE -> made.newThread(runnable);
        case INTERRUPTED ->
            made.newThread(
                () -> {
                  Thread.currentThread().interrupt();
                  runnable.run();
                });
        case THROW -> throw new IllegalStateException("no threads left");
        case UNSTARTABLE -> {
          Thread thread = new UnstartableThread(runnable);
          unstartable.add(thread);
          yield thread;
        }
        case NULL -> null;
        case NEVER_RUNS -> {
          Thread thread = new Thread(() -> {}, "test-never-runs"); // its setup "failed"
          thread.setDaemon(true);
          yield thread;
        }
      };
    }

    synchronized int requests() {
      return requests;
    }

    synchronized List<Thread> unstartable() {
      return List.copyOf(unstartable);
    }

    List<Thread> created() {
      return made.created();
    }
  }

  /** A thread the JVM has no room to start. */
  private static final class UnstartableThread extends Thread {
    UnstartableThread(Runnable runnable) {
      super(runnable, "test-unstartable");
      setDaemon(true);
    }

    @Override
    public synchronized void start() {
      throw new OutOfMemoryError("unable to create native thread: possibly out of memory");
    }
  }
}

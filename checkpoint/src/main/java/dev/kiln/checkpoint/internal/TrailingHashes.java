package dev.kiln.checkpoint.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SHA-256 of files a save is writing, computed while they are being written.
 *
 * <p>A file's SHA-256 is sequential and runs at about 1.3 GB/s per core, slower than writing. A
 * save hashing after the writer returns therefore takes write + hash; hashing beside the writer
 * takes about the longer of the two. The store opens a {@link Session} around its writer; {@code
 * TensorFile.write} on that thread asks for a {@link Tracker} and writes through it. The tracker
 * copies what is written into 1 MiB blocks aligned with the file's, computes each block's CRC32C on
 * the writer's thread, and hands the blocks to a thread from the store's factory that computes the
 * SHA-256 of the same bytes. So no byte is read back from the page cache, and the hashing thread
 * does nothing but the SHA-256. The writer waits only if {@value #RING} blocks are still unhashed
 * (or unwritten, below). A file is followed once its first block is full ({@link #START_BYTES}); at
 * most {@link #MAX_ACTIVE} files are followed at once, and others (and small files) are hashed by
 * the store afterwards.
 *
 * <p>A file whose writer expects it to reach {@link #START_BYTES} is followed from its start. If it
 * is expected to reach {@link #DIRECT_MIN_BYTES}, it is also written with direct I/O ({@code
 * O_DIRECT}) on a local Linux file system, from the same blocks, by a second thread from the
 * store's factory, at each block's place; its last, partial block is written through the page cache
 * when the writer finishes. The device reads the blocks from memory, so no core copies the file
 * into the page cache or writes it back. Where the file system refuses, the file goes through the
 * page cache as before.
 *
 * <p>When the writer finishes a file, the tracker seals it ({@link Seal}: it sets the file's
 * modification time 10 s back, with nanoseconds of its own, and notes it with the file's size,
 * inode and change time). The store uses the tracker's SHA-256 and CRC32Cs only if the seal still
 * holds when it describes the file; a file written, truncated, linked or replaced after its writer
 * finished, however coarse the file system's clock, is hashed again from disk.
 *
 * <p>A session can also tell a listener each time a tracked file written through the page cache has
 * grown by {@link #FLUSH_BYTES}, and when its writer has finished it, so that the store can force
 * it to the device while the writer is still writing (this file or the next one) instead of all at
 * the end. Bytes written directly are on their way to the device already.
 */
public final class TrailingHashes {

  /** A file is followed once this much of it is written. */
  public static final long START_BYTES = FileHashes.MIN_PART_SIZE;

  /** Files followed at the same time, per save. */
  public static final int MAX_ACTIVE = 2;

  /**
   * Blocks a tracker may hold that its threads have not hashed (or written) yet. Enough for the
   * writer of a checkpoint of a few MiB never to wait for the hashing: it hands its bytes to the
   * page cache (and the device) at once, while the hashing catches up on the other core. (With 4, a
   * 14 MB save took 4–8% longer here.)
   */
  public static final int RING = 16;

  /**
   * Blocks kept between saves (16 MiB of direct memory at most): allocating (and first touching) a
   * few MiB per save costs more than hashing a small checkpoint. A save that needs more allocates
   * them, and the pool keeps what it can.
   */
  private static final int KEPT_BLOCKS = 16;

  /**
   * A session's listener hears of a tracked file each time it has grown by this much. Small, so
   * that the device starts early even for a file of a few MiB: the listener coalesces what it hears
   * while it is busy, so a large file still costs only as many flushes as the device can take.
   */
  public static final long FLUSH_BYTES = FileHashes.MIN_PART_SIZE;

  /**
   * Whether files followed from their start may be written with direct I/O: on Linux, unless {@code
   * -Dkiln.checkpoint.directIo=false}. Which directories suit it, {@link #directIoSuits}.
   */
  static final boolean DIRECT_IO =
      System.getProperty("os.name", "").startsWith("Linux")
          && !"false".equalsIgnoreCase(System.getProperty("kiln.checkpoint.directIo"))
          && directOption() != null;

  /**
   * Files expected to reach this many bytes are written with direct I/O, where the store's
   * directory suits it; smaller ones go through the page cache, which costs them less (about 1 ms
   * in a 14 MB checkpoint here) and leaves them cached for a load. Direct I/O pays off for large
   * files: 1 GiB saved in 0.8–1.0 s every time, against 0.9–4.8 s through the page cache, and
   * without pushing the training data out of it. {@code -Dkiln.checkpoint.directIoMinBytes} changes
   * it; default 64 MiB.
   */
  static final long DIRECT_MIN_BYTES = Long.getLong("kiln.checkpoint.directIoMinBytes", 64L << 20);

  /**
   * File systems on a local device, where direct I/O spares the cores and the page cache. Not
   * network and FUSE file systems: there a direct write waits for the server, one block at a time,
   * where the page cache keeps many in flight. Not Btrfs: since Linux 6.14 it turns direct writes
   * to checksummed files into page-cache writes, which would then miss their early flushes. (tmpfs
   * gains nothing, but takes it from Linux 6.6 on: the full-disk tests exercise direct writes on
   * one.)
   */
  private static final Set<String> DIRECT_IO_FILE_SYSTEMS =
      Set.of("ext2", "ext3", "ext4", "xfs", "f2fs", "overlay", "tmpfs");

  /** Bytes written with direct I/O in this process; for tests. */
  static final AtomicLong DIRECT_BYTES = new AtomicLong();

  private static final Logger log = LoggerFactory.getLogger(TrailingHashes.class);
  private static final ThreadLocal<Session> CURRENT = new ThreadLocal<>();
  private static final int BLOCK = Math.toIntExact(FileHashes.MIN_PART_SIZE);

  /**
   * The alignment of the blocks' memory. The JDK checks a direct write's memory, offset and length
   * against the file system's fragment size ({@code f_frsize}); with 4 KiB (most local file
   * systems) 1 MiB blocks at 1 MiB offsets pass. A file system that wants more refuses the first
   * write, and the file goes through the page cache.
   */
  private static final int ALIGNMENT = 4096;

  /** Blocks kept between saves ({@link #KEPT_BLOCKS}). */
  private static final ArrayBlockingQueue<ByteBuffer> BLOCKS =
      new ArrayBlockingQueue<>(KEPT_BLOCKS);

  private TrailingHashes() {}

  /**
   * The JDK's {@code O_DIRECT} open option, or null in a runtime without {@code jdk.unsupported} (a
   * trimmed {@code jlink} image, say), which then writes through the page cache.
   */
  private static OpenOption directOption() {
    try {
      return com.sun.nio.file.ExtendedOpenOption.DIRECT;
    } catch (LinkageError e) {
      return null;
    }
  }

  /** Starts tracking files written under {@code root} on this thread, until closed. */
  public static Session open(Path root, ThreadFactory threads) {
    return open(root, threads, file -> {});
  }

  /**
   * Whether files written in {@code directory} should go to the device with direct I/O: a local
   * file system ({@link #DIRECT_IO_FILE_SYSTEMS}) whose block size divides the blocks' alignment,
   * on Linux. A file system that still refuses it per file gets the page cache then.
   */
  public static boolean directIoSuits(Path directory) {
    if (!DIRECT_IO) {
      return false;
    }
    try {
      FileStore store = Files.getFileStore(directory);
      long blockSize = store.getBlockSize();
      boolean suits =
          DIRECT_IO_FILE_SYSTEMS.contains(store.type())
              && blockSize > 0
              && ALIGNMENT % blockSize == 0;
      log.debug(
          "{} is on {} (blocks of {} bytes): large tensor files are written {}",
          directory,
          store.type(),
          blockSize,
          suits ? "with direct I/O" : "through the page cache");
      return suits;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /**
   * As {@link #open(Path, ThreadFactory)}; {@code grown} hears of each tracked file written through
   * the page cache every time {@link #FLUSH_BYTES} more of it have been written, and of every
   * tracked file once more when its writer has finished it. It must return quickly (a system call
   * that does not wait for the device at most), and may be called on the writer's thread or on a
   * writing thread.
   */
  public static Session open(Path root, ThreadFactory threads, Consumer<Path> grown) {
    return open(root, threads, grown, directIoSuits(root));
  }

  /**
   * As {@link #open(Path, ThreadFactory, Consumer)}, writing files followed from their start with
   * direct I/O only if {@code directIo} (see {@link #directIoSuits}, which a store asks once).
   */
  public static Session open(
      Path root, ThreadFactory threads, Consumer<Path> grown, boolean directIo) {
    Session session =
        new Session(root.toAbsolutePath().normalize(), threads, grown, CURRENT.get(), directIo);
    CURRENT.set(session);
    return session;
  }

  /** Where {@link #writeFile} sends a file's bytes. */
  @FunctionalInterface
  public interface Output {
    /** Writes all of {@code bytes} at the end of the file; their position ends at their limit. */
    void write(ByteBuffer bytes) throws IOException;
  }

  /** What writes a file's bytes through an {@link Output}. */
  @FunctionalInterface
  public interface Content {
    void writeTo(Output output) throws IOException;
  }

  /**
   * Writes {@code file} (replacing it) with what {@code content} writes. Inside a save on this
   * thread the bytes go through the file's {@link Tracker}, hashed as they are written and, for a
   * file expected to reach {@link #DIRECT_MIN_BYTES}, written with direct I/O where the store
   * allows it; elsewhere straight to the file. The file is complete when this returns.
   *
   * @param expectedBytes about the size the file will have, a hint only
   */
  public static void writeFile(Path file, long expectedBytes, Content content) throws IOException {
    Tracker tracker = null;
    try (FileChannel channel =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      tracker = track(file, expectedBytes);
      content.writeTo(new SlicedOutput(channel, tracker));
    } catch (IOException | RuntimeException | Error e) {
      if (tracker != null) {
        tracker.failed();
      }
      throw e;
    }
    if (tracker != null) {
      tracker.finished(); // after the close: some file systems settle size and time only then
    }
  }

  /** Writes to the channel in slices, through the tracker (if any), which hashes them. */
  private static final class SlicedOutput implements Output {
    private static final int SLICE = 1 << 20;
    private final FileChannel channel;
    private final Tracker tracker;

    SlicedOutput(FileChannel channel, Tracker tracker) {
      this.channel = channel;
      this.tracker = tracker;
    }

    @Override
    public void write(ByteBuffer bytes) throws IOException {
      while (bytes.hasRemaining()) {
        ByteBuffer slice = bytes.slice();
        slice.limit(Math.min(slice.remaining(), SLICE));
        int n = slice.remaining();
        if (tracker != null) {
          tracker.write(channel, slice);
        } else {
          while (slice.hasRemaining()) {
            channel.write(slice);
          }
        }
        bytes.position(bytes.position() + n);
      }
    }
  }

  /**
   * A tracker for {@code file}, or null if no save on this thread is writing into a directory that
   * holds it. Call once the file is open for writing and empty, then write it only through {@link
   * Tracker#write}.
   */
  public static Tracker track(Path file) {
    return track(file, 0);
  }

  /**
   * As {@link #track(Path)}, for a file that its writer expects to reach {@code expectedBytes}: if
   * that is {@link #START_BYTES} or more, the thread that hashes it starts now, while the writer
   * prepares the first block, rather than once the block is full; if it is {@link
   * #DIRECT_MIN_BYTES} or more and the session allows it, a thread writing it with direct I/O too.
   */
  public static Tracker track(Path file, long expectedBytes) {
    Session session = CURRENT.get();
    if (session == null) {
      return null;
    }
    Path path = file.toAbsolutePath().normalize();
    if (!path.startsWith(session.root)) {
      return null;
    }
    Tracker tracker = session.track(path);
    if (expectedBytes >= START_BYTES) {
      tracker.startNow(expectedBytes >= DIRECT_MIN_BYTES);
    }
    return tracker;
  }

  /** The files one save's writer wrote on the store's thread. */
  public static final class Session implements AutoCloseable {
    private final Path root;
    private final ThreadFactory threads;
    private final Consumer<Path> grown;
    private final Session outer; // a save in progress on this thread when this one began
    private final boolean directIo;
    private final Map<Path, Tracker> trackers = new LinkedHashMap<>(); // guarded by this
    private int active; // guarded by this
    private boolean closed; // guarded by this

    private Session(
        Path root, ThreadFactory threads, Consumer<Path> grown, Session outer, boolean directIo) {
      this.root = root;
      this.threads = Objects.requireNonNull(threads, "threads == null");
      this.grown = Objects.requireNonNull(grown, "grown == null");
      this.outer = outer;
      this.directIo = directIo && DIRECT_IO;
    }

    private Tracker track(Path path) {
      Tracker previous;
      Tracker tracker = new Tracker(this, path);
      synchronized (this) {
        previous = trackers.put(path, tracker);
      }
      if (previous != null) {
        previous.cancel(); // written again: only the last write counts
      }
      return tracker;
    }

    /** Starts {@code tracker}'s thread unless {@link #MAX_ACTIVE} are running; false if not. */
    private boolean startThread(Tracker tracker) {
      synchronized (this) {
        if (closed || active >= MAX_ACTIVE || trackers.get(tracker.file) != tracker) {
          return false;
        }
        active++;
      }
      try {
        Thread thread = threads.newThread(tracker::run);
        synchronized (tracker) {
          tracker.hashingStartNanos = System.nanoTime(); // before anyone can see the thread
        }
        tracker.thread = thread;
        thread.start();
        return true;
      } catch (Throwable e) {
        // No thread to spare (an OutOfMemoryError "unable to create native thread" included):
        // the store hashes the file afterwards.
        tracker.thread = null;
        threadEnded();
        return false;
      }
    }

    private synchronized void threadEnded() {
      active--;
    }

    /**
     * Stops handing out trackers on this thread (an enclosing save's session, if any, takes over
     * again); the ones started keep hashing.
     */
    public void endWriting() {
      if (CURRENT.get() == this) {
        if (outer != null) {
          CURRENT.set(outer);
        } else {
          CURRENT.remove();
        }
      }
    }

    /**
     * Whether a thread followed {@code file} as it was written (its result may be unusable); for
     * tests, as the store asks {@link #isUnchanged}.
     */
    synchronized boolean isFollowed(Path file) {
      Tracker tracker = trackers.get(file.toAbsolutePath().normalize());
      return tracker != null && tracker.thread != null;
    }

    /**
     * Whether {@code file} was followed to the end of its writer and is unchanged since (by its
     * {@link Seal}): then its {@link #digests} describe it, if the thread delivers them.
     */
    public boolean isUnchanged(Path file) {
      Tracker tracker;
      synchronized (this) {
        tracker = trackers.get(file.toAbsolutePath().normalize());
      }
      return tracker != null && tracker.unchanged();
    }

    /**
     * Waits for {@code file}'s tracker; returns what it computed if the writer finished and every
     * byte it wrote was hashed, else null. They describe the file only if it is {@link #isUnchanged
     * unchanged} since.
     */
    public Digests digests(Path file) {
      Tracker tracker;
      synchronized (this) {
        tracker = trackers.get(file.toAbsolutePath().normalize());
      }
      return tracker == null ? null : tracker.result();
    }

    /** Stops unfinished trackers and waits for every tracker thread. */
    @Override
    public void close() {
      endWriting();
      Tracker[] all;
      synchronized (this) {
        closed = true;
        all = trackers.values().toArray(new Tracker[0]);
      }
      for (Tracker tracker : all) {
        tracker.cancel();
      }
    }
  }

  /** What a tracker computed from the bytes it hashed: their count, SHA-256 and part CRC32Cs. */
  public record Digests(long size, String sha256, List<String> partCrc32c) {}

  /**
   * What a finished file looked like: which file (inode), its size, a modification time the tracker
   * set 10 s in the past with nanoseconds unique to this seal, and the change time that setting it
   * gave. Any later write, truncation, link or replacement moves the modification time to the
   * present (however coarse the file system's clock), or the change time, or changes the file; a
   * copy that brings another file's time along brings another seal's nanoseconds. So a seal that
   * still holds shows the file is as the writer left it. Only a change that also sets the time back
   * to this exact value within the same tick of the change-time clock would go unseen; loading
   * would then report the file as damaged. Files on a file system that does not keep the
   * nanoseconds set are not sealed.
   */
  private record Seal(Object fileKey, long size, FileTime modified, Object changed) {

    /** Nanoseconds for the next mark; distinct for a billion seals in a process. */
    private static final AtomicLong NANOS = new AtomicLong(new SecureRandom().nextInt(1 << 29));

    /** Seals {@code file}, which holds {@code size} bytes; null if it cannot. */
    static Seal of(Path file, long size) {
      try {
        // The system clock, not the store's: what counts is that the file system's own clock,
        // which stamps later writes, is past this mark.
        long nanos = Math.floorMod(NANOS.getAndIncrement(), 1_000_000_000L);
        FileTime mark =
            FileTime.from(Instant.ofEpochSecond(Instant.now().getEpochSecond() - 10, nanos));
        Files.setLastModifiedTime(file, mark);
        BasicFileAttributes attributes = attributes(file);
        if (attributes.fileKey() == null
            || attributes.size() != size
            || !attributes.lastModifiedTime().equals(mark)) {
          return null; // files not told apart, not what the writer wrote, or a coarse clock
        }
        return new Seal(attributes.fileKey(), size, mark, changeTime(file));
      } catch (IOException | RuntimeException e) {
        return null; // the store hashes the file itself
      }
    }

    boolean holds(Path file) {
      try {
        BasicFileAttributes now = attributes(file);
        return now.isRegularFile()
            && fileKey.equals(now.fileKey())
            && size == now.size()
            && modified.equals(now.lastModifiedTime())
            && Objects.equals(changed, changeTime(file));
      } catch (IOException | RuntimeException e) {
        return false;
      }
    }

    private static BasicFileAttributes attributes(Path file) throws IOException {
      return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    }

    /** The inode's change time, which no program can set, or null where the JDK cannot read it. */
    private static Object changeTime(Path file) throws IOException {
      try {
        return Files.getAttribute(file, "unix:ctime", LinkOption.NOFOLLOW_LINKS);
      } catch (UnsupportedOperationException | IllegalArgumentException e) {
        return null;
      }
    }
  }

  /**
   * A full (or the last) block of a file, for the tracker's thread to hash and, when the file is
   * written directly, for its writing thread to write at {@code position}.
   */
  private static final class Block {
    final ByteBuffer bytes;
    final int length;
    final long position;
    int refs; // guarded by the tracker: the threads still to use it

    Block(ByteBuffer bytes, int length, long position) {
      this.bytes = bytes;
      this.length = length;
      this.position = position;
    }
  }

  /** Follows one file as it is written. */
  public static final class Tracker {
    private final Session session;
    private final Path file;
    private volatile Thread thread; // set once, by the writer's thread
    private volatile Thread writerThread; // writes the blocks when direct; set once
    // Writer's thread only.
    private boolean startTried;
    private boolean off; // no thread hashes this file (any more)
    private volatile FileChannel direct; // while the blocks go to the file through writerThread
    private long written;
    private ByteBuffer block; // filling, not yet handed over
    private int fill;
    private final List<Integer> blockCrcs = new ArrayList<>();
    private final CRC32C crc = new CRC32C();
    // Guarded by this.
    private final ArrayDeque<Block> queue = new ArrayDeque<>(); // to hash
    private final ArrayDeque<Block> toWrite = new ArrayDeque<>(); // to write, when direct
    private int held; // blocks taken and not given back
    private boolean finished;
    private boolean failed;
    private boolean cancelled;
    private boolean abandoned; // the writer stopped handing over blocks: no result
    private boolean threadEnded;
    private boolean hashingStarted; // the hashing thread runs its task
    private boolean hashingEnded; // its task has returned
    private long hashingStartNanos; // when the hashing thread was started
    private boolean writingStarted; // writerThread runs the writes: only it takes from toWrite
    private long writingStartNanos; // when writerThread was started
    private boolean writesEnded; // writerThread has stopped, or never ran
    private boolean noMoreWrites; // the writer has handed over its last block to write
    private IOException writeFailure;
    private long size; // bytes written, once finished
    private Seal seal; // once finished, if the file could be sealed
    private List<Integer> crcs; // the block CRC32Cs, once finished
    private Digests digests;

    private Tracker(Session session, Path file) {
      this.session = session;
      this.file = file;
    }

    /**
     * Writes all of {@code source} to the file at the end of what was written through this tracker
     * so far. While the file is followed, the bytes are copied into a block first and written from
     * there, so the file holds exactly what is hashed even if {@code source} changes meanwhile. A
     * file followed from its start ({@link #track(Path, long)}) and expected to reach {@link
     * #DIRECT_MIN_BYTES} is written from the blocks with direct I/O where the system allows it, on
     * a thread of the store's, not through {@code channel} (whose position and size then stay as
     * they were): it is complete only once {@link #finished} returns. Otherwise {@code channel}'s
     * position must be the number of bytes written through this tracker so far.
     */
    public void write(FileChannel channel, ByteBuffer source) throws IOException {
      if (direct != null && Thread.currentThread().isInterrupted()) {
        // As the channel would have thrown, had the bytes gone through it.
        throw new InterruptedIOException("interrupted while writing " + file);
      }
      long before = written;
      while (source.hasRemaining()) {
        if (direct != null) {
          if (block == null && !takeBlockToWrite(channel)) {
            continue; // back to writing through the channel
          }
          int n = Math.min(BLOCK - fill, source.remaining());
          block.put(fill, source, source.position(), n);
          source.position(source.position() + n);
          fill += n;
          written += n;
          if (fill == BLOCK) {
            handOver();
          }
          continue;
        }
        if (off || (block == null && !takeBlock())) {
          int n = source.remaining();
          writeFully(channel, source);
          written += n;
          break;
        }
        int n = Math.min(BLOCK - fill, source.remaining());
        block.put(fill, source, source.position(), n);
        source.position(source.position() + n);
        writeFully(channel, block.duplicate().limit(fill + n).position(fill));
        fill += n;
        written += n;
        if (fill == BLOCK) {
          handOver();
        }
      }
      // Written directly, the bytes are on their way to the device already: no early flush.
      if (direct == null && before / FLUSH_BYTES != written / FLUSH_BYTES) {
        session.grown.accept(file);
      }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer, long position)
        throws IOException {
      long start = position - buffer.position();
      while (buffer.hasRemaining()) {
        channel.write(buffer, start + buffer.position());
      }
    }

    /**
     * The writer is done and has closed the file. A file written directly gets its last bytes here;
     * if that fails, this throws and the tracker counts as {@link #failed}.
     */
    public void finished() throws IOException {
      if (direct != null) {
        try {
          finishWriting();
        } catch (IOException | RuntimeException | Error e) {
          failed();
          throw e;
        }
      }
      if (!off && fill > 0) {
        handOver();
      }
      Seal sealed = off || thread == null ? null : Seal.of(file, written);
      synchronized (this) {
        finished = true;
        size = written;
        crcs = List.copyOf(blockCrcs);
        seal = sealed;
        notifyAll();
      }
      releaseUnhanded();
      session.grown.accept(file); // after the seal, which changes the file's time
    }

    /**
     * Waits for the blocks handed to the writing thread, then writes the last, partial block (no
     * direct write can: its length is not a multiple of the device's block) through a channel of
     * its own, at its place.
     */
    private void finishWriting() throws IOException {
      awaitWrites();
      if (fill > 0) {
        try (FileChannel tail = FileChannel.open(file, StandardOpenOption.WRITE)) {
          writeFully(tail, block.duplicate().limit(fill).position(0), written - fill);
        }
      }
      stopWriting();
    }

    /** Waits until the writing thread has written every block handed to it; throws its failure. */
    private void awaitWrites() throws IOException {
      synchronized (this) {
        noMoreWrites = true;
        notifyAll();
        boolean interrupted = false;
        while (!writesEnded) {
          try {
            wait(100);
          } catch (InterruptedException e) {
            interrupted = true; // the blocks in flight must land before the file is used
          }
          if (!writesEnded && writingThreadLost()) {
            writesEnded = true; // its blocks are the writer's now
          }
        }
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
        throwWriteFailure();
        if (cancelled) {
          throw new IOException("the writing of " + file + " was stopped: the save is closing");
        }
      }
      writeLeftovers();
    }

    /** Writes what a writing thread that never ran (or died) left queued, through the cache. */
    private void writeLeftovers() throws IOException {
      Block next;
      while ((next = nextLeftover()) != null) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
          writeFully(channel, next.bytes.duplicate().limit(next.length).position(0), next.position);
        }
        synchronized (this) {
          toWrite.poll();
          release(next);
        }
      }
    }

    private synchronized Block nextLeftover() {
      return toWrite.peek();
    }

    /** Ends direct writing: the writing thread has ended; closes the direct channel. */
    private void stopWriting() {
      synchronized (this) {
        noMoreWrites = true;
        notifyAll();
      }
      awaitWritingThread();
      FileChannel channel = direct;
      direct = null;
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException e) {
          // nothing was pending on it: the writing thread has ended
        }
      }
    }

    /** Waits until the writing thread is done with the direct channel (see {@link #awaitTask}). */
    private void awaitWritingThread() {
      awaitTask(
          writerThread,
          () -> writesEnded,
          () -> writingStarted,
          this::writingThreadLost,
          () -> writesEnded = true);
    }

    /**
     * Waits until a task of this tracker's has returned, or has not started and will not in time
     * ({@code lost}; then {@code giveUp}, after which the task does nothing should it start later),
     * holding this while it checks. Not by {@code join}: a factory's thread may hand its task to
     * another thread, or wait for a busy pool. A thread whose task ran is then joined briefly.
     */
    private void awaitTask(
        Thread thread,
        BooleanSupplier ended,
        BooleanSupplier started,
        BooleanSupplier lost,
        Runnable giveUp) {
      if (thread == null) {
        return;
      }
      boolean interrupted = false;
      boolean ran;
      synchronized (this) {
        while (!ended.getAsBoolean()) {
          if (lost.getAsBoolean()) {
            giveUp.run();
            break;
          }
          try {
            wait(100);
          } catch (InterruptedException e) {
            interrupted = true;
          }
        }
        ran = started.getAsBoolean();
      }
      if (ran) {
        Threads.joinUninterruptibly(thread, 1000); // its task has returned: the thread ends now
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }

    /**
     * Whether the writing thread has not started the writes and will not in time: it has ended
     * without running them, or it has not begun a second after it was started (a factory whose
     * threads wait for a busy pool, say). Call holding this; the writer then claims the writes,
     * which the thread, should it start later, leaves alone.
     */
    private boolean writingThreadLost() {
      return notStartingInTime(writingStarted, writerThread, writingStartNanos);
    }

    /**
     * Whether a task that has not {@code started} will not in time: its thread has ended without
     * running it, or has not begun it a second after {@code startNanos}.
     */
    private static boolean notStartingInTime(boolean started, Thread thread, long startNanos) {
      return !started && (!thread.isAlive() || System.nanoTime() - startNanos > 1_000_000_000L);
    }

    private void throwWriteFailure() throws IOException {
      if (writeFailure != null) {
        // A new exception, thrown on the writer's thread, of the same kind and with the system's
        // words (which say whether the disk is full); the writing thread's is its cause.
        IOException thrown;
        if (writeFailure instanceof AccessDeniedException fse) {
          thrown = new AccessDeniedException(fse.getFile(), fse.getOtherFile(), fse.getReason());
        } else if (writeFailure instanceof NoSuchFileException fse) {
          thrown = new NoSuchFileException(fse.getFile(), fse.getOtherFile(), fse.getReason());
        } else if (writeFailure instanceof FileSystemException fse) {
          thrown = new FileSystemException(fse.getFile(), fse.getOtherFile(), fse.getReason());
        } else if (writeFailure instanceof InterruptedIOException
            || writeFailure instanceof ClosedByInterruptException) {
          thrown =
              new InterruptedIOException(
                  "the thread writing "
                      + file
                      + " was interrupted: something outside the store interrupts the threads"
                      + " of its threadFactory");
        } else {
          thrown = new IOException(Failures.cause(writeFailure));
        }
        thrown.initCause(writeFailure);
        throw thrown;
      }
    }

    /** Whether the finished file is as the writer left it (see {@link Seal}). */
    private boolean unchanged() {
      Seal sealed;
      synchronized (this) {
        if (!finished || failed || abandoned || thread == null) {
          return false;
        }
        sealed = seal;
      }
      return sealed != null && sealed.holds(file);
    }

    /**
     * The writer failed; the result is not used. A file written directly still gets what was
     * written before the failure, as a file written through the page cache would hold it.
     */
    public void failed() {
      try {
        if (direct != null) {
          // What was written lands, even for an interrupted writer; its interrupt is kept.
          boolean interrupted = Thread.interrupted();
          try {
            finishWriting();
          } catch (IOException | RuntimeException | Error e) {
            // the writer's own failure is the one reported
            log.debug(
                "Could not finish writing {} after its writer failed: {}", file, e.toString());
          } finally {
            stopWriting();
            if (interrupted) {
              Thread.currentThread().interrupt();
            }
          }
        }
      } finally {
        synchronized (this) {
          failed = true;
          finished = true;
          notifyAll();
        }
        releaseUnhanded();
      }
    }

    /** Takes a free block for the writer, waiting while {@link #RING} are held; false if off. */
    private boolean takeBlock() {
      synchronized (this) {
        boolean interrupted = false;
        while (held >= RING && !cancelled && !threadEnded) {
          try {
            wait(100);
          } catch (InterruptedException e) {
            interrupted = true;
            break;
          }
          if (held >= RING && !threadEnded && hashingThreadLost()) {
            giveUpOnHashing(); // its blocks will not be hashed: the store hashes the file later
          }
        }
        if (interrupted) {
          Thread.currentThread().interrupt(); // the writer's to handle; stop following
        }
        if (interrupted || cancelled || threadEnded) {
          goOff();
          return false;
        }
        held++;
      }
      ByteBuffer free = freeBlock();
      if (free == null) {
        // No direct memory to spare: write without following, as the store would hash afterwards.
        synchronized (this) {
          held--;
        }
        goOff();
        return false;
      }
      block = free;
      fill = 0;
      return true;
    }

    /**
     * Takes a free block for a file written directly, waiting while {@link #RING} are held (by the
     * hashing or the writing thread). False if direct writing has ended, its blocks written, and
     * the file is now written through {@code channel}.
     */
    private boolean takeBlockToWrite(FileChannel channel) throws IOException {
      boolean took = false;
      synchronized (this) {
        while (held >= RING && !writesEnded) {
          try {
            wait(100);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while writing " + file);
          }
          if (held >= RING && !writesEnded && writingThreadLost()) {
            writesEnded = true; // its blocks are the writer's now
          }
          if (held >= RING && !threadEnded && hashingThreadLost()) {
            giveUpOnHashing(); // the same for the hashing thread: its blocks are not hashed
            goOff();
          }
        }
        throwWriteFailure();
        if (!writesEnded) {
          held++;
          took = true;
        }
      }
      ByteBuffer free = took ? freeBlock() : null;
      if (free == null) {
        // The writing thread is gone (or no memory): once it has written what it took, write the
        // rest through the channel, at the end of the file.
        if (took) {
          synchronized (this) {
            held--;
          }
        }
        awaitWrites();
        stopWriting();
        channel.position(written);
        return false;
      }
      block = free;
      fill = 0;
      return true;
    }

    /** A free block: one kept from an earlier save, or a new one; null if there is no memory. */
    private static ByteBuffer freeBlock() {
      ByteBuffer free = BLOCKS.poll();
      if (free != null) {
        return free;
      }
      try {
        // Aligned for direct I/O, which needs the memory aligned to the device's blocks.
        return ByteBuffer.allocateDirect(BLOCK + ALIGNMENT)
            .alignedSlice(ALIGNMENT)
            .limit(BLOCK)
            .slice();
      } catch (OutOfMemoryError e) {
        return null;
      }
    }

    /**
     * Starts following the file before its first block is full, writing it directly if it is {@code
     * large} ({@link #DIRECT_MIN_BYTES}) and the session allows it.
     */
    private void startNow(boolean large) {
      startTried = true;
      if (!session.startThread(this)) {
        goOff();
        return;
      }
      if (large && session.directIo) {
        startWriting();
      }
    }

    /**
     * Opens the file for direct I/O, which bypasses the page cache: the device reads the blocks
     * from memory, so the cores copy nothing into the page cache and write nothing back, and are
     * free for the hashing. Where the file system refuses, the file is written as before.
     */
    private void startWriting() {
      FileChannel channel;
      try {
        channel = FileChannel.open(file, StandardOpenOption.WRITE, directOption());
      } catch (IOException | RuntimeException e) {
        return; // e.g. EINVAL from a file system without O_DIRECT
      }
      try {
        Thread writing = session.threads.newThread(() -> runWrites(channel));
        writerThread = writing;
        direct = channel;
        synchronized (this) {
          writingStartNanos = System.nanoTime();
        }
        writing.start();
      } catch (Throwable e) {
        writerThread = null;
        direct = null;
        try {
          channel.close();
        } catch (IOException closing) {
          e.addSuppressed(closing);
        }
      }
    }

    /**
     * Computes the CRC32C of the filled block and queues it for the hashing thread (starting it)
     * and, when the file is written directly, for the writing thread.
     */
    private void handOver() {
      boolean hashing = !off;
      if (hashing) {
        crc.reset();
        crc.update(block.duplicate().limit(fill).position(0));
        blockCrcs.add((int) crc.getValue());
      }
      Block handed = new Block(block, fill, written - fill);
      synchronized (this) {
        if (hashing && !threadEnded && !cancelled) {
          queue.add(handed);
          handed.refs++;
        }
        if (direct != null && writeFailure == null && !cancelled) { // else the writer stops
          toWrite.add(handed);
          handed.refs++;
        }
        if (handed.refs == 0) {
          give(handed.bytes); // nobody will hash it
        }
        notifyAll();
      }
      block = null;
      fill = 0;
      if (!startTried) {
        startTried = true; // the first block is full, or the file ended: START_BYTES or less
        if (written < START_BYTES || !session.startThread(this)) {
          goOff();
        }
      }
    }

    /**
     * Stops following: frees the blocks queued for hashing. The writer then only writes (through
     * the blocks if they go to the file directly).
     */
    private void goOff() {
      off = true;
      synchronized (this) {
        abandoned = true;
        for (Block queued : queue) {
          release(queued);
        }
        queue.clear();
        notifyAll(); // a thread started early may be waiting for a first block
      }
      if (direct == null) {
        releaseUnhanded();
      }
    }

    /** Gives back the block the writer is filling, if any. */
    private void releaseUnhanded() {
      if (block != null) {
        ByteBuffer unhanded = block;
        block = null;
        synchronized (this) {
          give(unhanded);
        }
      }
    }

    /** One thread is done with {@code handed}; the last one gives it back. Call holding this. */
    private void release(Block handed) {
      if (--handed.refs == 0) {
        give(handed.bytes);
      }
    }

    /** Returns a held block to the pool; call holding this. */
    private void give(ByteBuffer bytes) {
      held--;
      BLOCKS.offer(bytes);
      notifyAll();
    }

    private void cancel() {
      synchronized (this) {
        cancelled = true;
        notifyAll();
      }
      awaitHashingThread();
      awaitWritingThread();
      FileChannel channel = direct;
      if (channel != null) {
        try {
          channel.close(); // a writer that never finished: the save fails anyway
        } catch (IOException e) {
          // nothing to keep
        }
      }
    }

    private Digests result() {
      synchronized (this) {
        if (!finished || thread == null) {
          return null; // unfinished writer (close() stops the thread), or never followed
        }
      }
      awaitHashingThread();
      synchronized (this) {
        return failed || abandoned || digests == null || digests.size() != size ? null : digests;
      }
    }

    /**
     * Whether the hashing thread has not started hashing and will not in time: it has ended without
     * running its task, or has not begun a second after it was started. Call holding this; the
     * writer then stops following the file, and the task, should it start later, does nothing.
     */
    private boolean hashingThreadLost() {
      return notStartingInTime(hashingStarted, thread, hashingStartNanos);
    }

    /** Waits until the hashing task has returned, or gives up on it (see {@link #awaitTask}). */
    private void awaitHashingThread() {
      awaitTask(
          thread,
          () -> hashingEnded,
          () -> hashingStarted,
          this::hashingThreadLost,
          this::giveUpOnHashing);
    }

    /**
     * Gives up on a hashing task that has not started in time ({@link #hashingThreadLost}); call
     * holding this. It does nothing if it starts later; the blocks queued for it go back now.
     */
    private void giveUpOnHashing() {
      if (!threadEnded) {
        log.debug(
            "The hashing thread for {} did not start within a second: the store hashes the file"
                + " after its writer",
            file);
      }
      threadEnded = true;
      for (Block queued : queue) {
        release(queued);
      }
      queue.clear();
      notifyAll();
    }

    /** The hashing thread. */
    private void run() {
      Block inHand = null; // taken off the queue: only this thread gives it back
      try {
        synchronized (this) {
          if (threadEnded) {
            return; // given up on (hashingThreadLost): the store hashes the file later
          }
          hashingStarted = true;
        }
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        long hashed = 0;
        while (true) {
          synchronized (this) {
            while (!cancelled && !failed && !abandoned && queue.isEmpty() && !finished) {
              wait();
            }
            if (cancelled || failed || abandoned) {
              return;
            }
            if (queue.isEmpty()) {
              break; // finished, and every block is hashed
            }
            inHand = queue.poll();
          }
          sha.update(inHand.bytes.duplicate().limit(inHand.length).position(0));
          hashed += inHand.length;
          synchronized (this) {
            release(inHand);
            inHand = null;
          }
        }
        List<Integer> blocks;
        synchronized (this) {
          blocks = crcs;
        }
        Digests result =
            new Digests(
                hashed,
                HexFormat.of().formatHex(sha.digest()),
                FileHashes.partCrc32c(hashed, blocks));
        synchronized (this) {
          digests = result;
        }
      } catch (NoSuchAlgorithmException | RuntimeException e) {
        // no result: the store hashes the file itself
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        synchronized (this) {
          threadEnded = true;
          hashingEnded = true;
          if (inHand != null) {
            release(inHand);
          }
          for (Block queued : queue) {
            release(queued);
          }
          queue.clear();
          notifyAll(); // a writer waiting for a block stops following
        }
        session.threadEnded();
      }
    }

    /**
     * The writing thread of a file written directly: writes each block handed to it at its place,
     * in order. A direct write the system refuses for this block (an alignment it wants, say) is
     * done through the page cache instead, and so are the blocks after it; a write that fails that
     * way too is the save's failure.
     */
    private void runWrites(FileChannel channel) {
      synchronized (this) {
        if (writesEnded) {
          return; // counted as never run: the writer writes the blocks itself
        }
        writingStarted = true;
      }
      FileChannel buffered = null;
      boolean directRefused = false;
      try {
        while (true) {
          Block next;
          synchronized (this) {
            while (toWrite.isEmpty() && !noMoreWrites && !cancelled && !failed) {
              wait();
            }
            if (cancelled || failed || toWrite.isEmpty()) {
              return; // stopped, or done
            }
            next = toWrite.peek(); // stays queued until written: awaitWrites counts on it
          }
          ByteBuffer bytes = next.bytes.duplicate().limit(next.length).position(0);
          if (!directRefused) {
            try {
              writeFully(channel, bytes, next.position);
              DIRECT_BYTES.addAndGet(next.length);
            } catch (ClosedByInterruptException e) {
              throw e;
            } catch (IOException e) {
              directRefused = true; // retried below: a full disk fails there too
              log.debug("Direct write to {} refused, writing through the page cache: {}", file, e);
            }
          }
          if (bytes.hasRemaining()) {
            if (buffered == null) {
              buffered = FileChannel.open(file, StandardOpenOption.WRITE);
            }
            writeFully(buffered, bytes, next.position + bytes.position());
            // Through the page cache now: the store flushes it as it grows, as any other file.
            session.grown.accept(file);
          }
          synchronized (this) {
            toWrite.poll();
            release(next);
          }
        }
      } catch (IOException e) {
        synchronized (this) {
          writeFailure = e;
        }
      } catch (InterruptedException e) {
        synchronized (this) {
          writeFailure = new InterruptedIOException("interrupted while writing " + file);
        }
      } catch (RuntimeException e) {
        synchronized (this) {
          writeFailure = new IOException("could not write " + file + ": " + e, e);
        }
      } finally {
        if (buffered != null) {
          try {
            buffered.close();
          } catch (IOException e) {
            synchronized (this) {
              if (writeFailure == null) {
                writeFailure = e;
              }
            }
          }
        }
        synchronized (this) {
          writesEnded = true;
          if (writeFailure != null || cancelled || failed) {
            for (Block queued : toWrite) {
              release(queued);
            }
            toWrite.clear();
          }
          notifyAll();
        }
      }
    }
  }
}

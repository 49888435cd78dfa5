package dev.kiln.checkpoint.internal;

import dev.kiln.checkpoint.CheckpointFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;

/**
 * Checksums of checkpoint files, on several threads.
 *
 * <p>Each file gets a SHA-256 of its whole contents and a CRC32C of each part ({@link
 * #partSize(long)}). The SHA-256 is what tools such as {@code sha256sum} check; it runs at about
 * 1.3 GB/s per core (with the CPU's SHA instructions), slower than reading from the page cache, and
 * one file's digest is sequential. The part CRC32Cs run at memory speed (the JVM uses the CPU's
 * CRC32C instruction) and on all cores at once, which is what lets loading check every byte in
 * about the time it takes to read them. CRC32C detects every error burst up to 32 bits and any
 * other accidental change but for one in 2<sup>32</sup>; it is not a defence against deliberate
 * edits, and neither is a SHA-256 stored beside the data it describes.
 */
public final class FileHashes {

  /** The smallest part: a file up to this size is one part. */
  public static final long MIN_PART_SIZE = 1L << 20;

  private static final int MAX_PARTS = 64;
  private static final int CHUNK = 4 << 20;

  private FileHashes() {}

  /** What a checksum is computed with. */
  public enum Algorithm {
    SHA256("SHA-256"),
    CRC32C("CRC32C");

    private final String label;

    Algorithm(String label) {
      this.label = label;
    }

    /** The name people know it by, e.g. "SHA-256", for messages. */
    public String label() {
      return label;
    }
  }

  /**
   * The part size for a file of {@code size} bytes: 0 for an empty file (no parts), else the
   * smallest power of two ≥ 1 MiB that splits it into at most 64 parts.
   */
  public static long partSize(long size) {
    if (size <= 0) {
      return 0;
    }
    long target = (size - 1) / MAX_PARTS + 1; // rounds up without overflow
    long part = Long.highestOneBit(target);
    if (part < target) {
      part <<= 1;
    }
    return Math.max(MIN_PART_SIZE, part);
  }

  /** Number of parts of a file of {@code size} bytes split into {@code partSize} pieces. */
  public static int partCount(long size, long partSize) {
    return partSize == 0 || size == 0 ? 0 : Math.toIntExact((size - 1) / partSize + 1);
  }

  /**
   * Describes {@code files} (relative name to path): size, whole-file SHA-256 and the CRC32C of
   * each part. The SHA-256s go first, one thread per file; the part CRC32Cs fill the other cores.
   */
  public static Map<String, CheckpointFile> describe(Map<String, Path> files, ThreadFactory threads)
      throws IOException {
    return describe(files, threads, null);
  }

  /**
   * As {@link #describe(Map, ThreadFactory)}, taking the SHA-256 and part CRC32Cs of files {@code
   * trailing} followed as they were written and that are unchanged since ({@link
   * TrailingHashes.Session#isUnchanged}); the others are read and hashed here, meanwhile.
   */
  public static Map<String, CheckpointFile> describe(
      Map<String, Path> files, ThreadFactory threads, TrailingHashes.Session trailing)
      throws IOException {
    Map<String, Path> toHash = new LinkedHashMap<>();
    List<String> followed = new ArrayList<>();
    for (Map.Entry<String, Path> e : files.entrySet()) {
      if (trailing != null && trailing.isUnchanged(e.getValue())) {
        followed.add(e.getKey());
      } else {
        toHash.put(e.getKey(), e.getValue());
      }
    }
    Map<String, CheckpointFile> described = new LinkedHashMap<>(hash(toHash, threads));
    Map<String, Path> late = new LinkedHashMap<>();
    for (String name : followed) {
      Path file = files.get(name);
      TrailingHashes.Digests digests = trailing.digests(file);
      if (digests != null && trailing.isUnchanged(file)) {
        long size = digests.size();
        described.put(
            name,
            new CheckpointFile(name, size, digests.sha256(), partSize(size), digests.partCrc32c()));
      } else {
        late.put(name, file); // its thread failed, or the file changed meanwhile
      }
    }
    described.putAll(hash(late, threads));
    Map<String, CheckpointFile> result = new LinkedHashMap<>();
    for (String name : files.keySet()) {
      result.put(name, described.get(name));
    }
    return result;
  }

  /** Reads and hashes {@code files}: their SHA-256s first, one thread per file, then the parts. */
  private static Map<String, CheckpointFile> hash(Map<String, Path> files, ThreadFactory threads)
      throws IOException {
    List<Task> tasks = new ArrayList<>();
    Map<String, Long> sizes = new LinkedHashMap<>();
    for (Map.Entry<String, Path> e : files.entrySet()) {
      Path file = e.getValue();
      long size;
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
        size = channel.size();
      }
      sizes.put(e.getKey(), size);
      tasks.add(new Task(file, 0, size, Algorithm.SHA256));
    }
    for (Map.Entry<String, Path> e : files.entrySet()) {
      long size = sizes.get(e.getKey());
      long partSize = partSize(size);
      for (int p = 0; p < partCount(size, partSize); p++) {
        long offset = p * partSize;
        tasks.add(
            new Task(e.getValue(), offset, Math.min(partSize, size - offset), Algorithm.CRC32C));
      }
    }
    List<String> checksums = new ArrayList<>(tasks.size());
    for (Object result : runAll(tasks, threads)) {
      if (result instanceof IOException io) {
        throw io;
      }
      checksums.add((String) result);
    }
    int next = files.size();
    int sha = 0;
    Map<String, CheckpointFile> result = new LinkedHashMap<>();
    for (String name : files.keySet()) {
      long size = sizes.get(name);
      int count = partCount(size, partSize(size));
      List<String> parts = List.copyOf(checksums.subList(next, next + count));
      next += count;
      result.put(name, new CheckpointFile(name, size, checksums.get(sha++), partSize(size), parts));
    }
    return result;
  }

  /**
   * A part (or, with {@code part} -1, the whole file) whose checksum differs from the manifest.
   *
   * @param part zero-based part index, or -1 for the whole file
   */
  public record Mismatch(
      String name, int part, long offset, long length, Algorithm algorithm, String actual) {}

  private record Slot(String name, int part, long offset, long length, String expected) {}

  /**
   * Checks each file's contents against its manifest entry. With {@link Algorithm#CRC32C} the
   * parts' CRC32Cs are checked (all parts of all files in parallel; a file recorded without parts
   * falls back to its SHA-256); with {@link Algorithm#SHA256} each file's SHA-256 (files in
   * parallel). Sizes must have been checked already.
   *
   * @param failures receives the first read failure of each file that could not be read
   * @return one mismatch per bad part (or whole file), in file and part order
   */
  public static List<Mismatch> verify(
      Map<CheckpointFile, Path> files,
      Algorithm algorithm,
      ThreadFactory threads,
      Map<String, IOException> failures) {
    List<Task> tasks = new ArrayList<>();
    List<Slot> slots = new ArrayList<>();
    for (Map.Entry<CheckpointFile, Path> e : files.entrySet()) {
      CheckpointFile expected = e.getKey();
      Path file = e.getValue();
      if (algorithm == Algorithm.SHA256 || expected.partCrc32c().isEmpty()) {
        tasks.add(new Task(file, 0, expected.size(), Algorithm.SHA256));
        slots.add(new Slot(expected.name(), -1, 0, expected.size(), expected.sha256()));
      } else {
        for (int p = 0; p < expected.partCrc32c().size(); p++) {
          long offset = p * expected.partSize();
          long length = Math.min(expected.partSize(), expected.size() - offset);
          tasks.add(new Task(file, offset, length, Algorithm.CRC32C));
          slots.add(new Slot(expected.name(), p, offset, length, expected.partCrc32c().get(p)));
        }
      }
    }
    List<Object> results = runAll(tasks, threads);
    List<Mismatch> mismatches = new ArrayList<>();
    for (int i = 0; i < results.size(); i++) {
      Slot slot = slots.get(i);
      Object result = results.get(i);
      if (result instanceof IOException io) {
        failures.putIfAbsent(slot.name(), io);
      } else if (!slot.expected().equals(result)) {
        mismatches.add(
            new Mismatch(
                slot.name(),
                slot.part(),
                slot.offset(),
                slot.length(),
                tasks.get(i).algorithm(),
                (String) result));
      }
    }
    return mismatches;
  }

  /**
   * Reads each file whole into {@code memory} (one after another; the buffer must hold them all)
   * and checks the copy in memory as {@link #verify} checks the file, all on one thread from {@code
   * threads}. Reading once serves both the check and the parse ({@link Preloaded}).
   *
   * @param contents receives each file's path and the slice of {@code memory} it is read into
   * @param failures receives the read failure of each file that could not be read
   * @return one mismatch per bad part (or whole file), in file and part order
   */
  public static List<Mismatch> readAndVerify(
      Map<CheckpointFile, Path> files,
      Algorithm algorithm,
      ThreadFactory threads,
      ByteBuffer memory,
      Map<Path, ByteBuffer> contents,
      Map<String, IOException> failures) {
    contents.putAll(slices(files, memory));
    if (!Thread.currentThread().isInterrupted()) {
      // On this thread, saving a thread start; an interrupt while reading closes the channel
      // (ClosedByInterruptException), which must not pass for damage: then start over on a helper.
      List<Mismatch> mismatches = new ArrayList<>();
      try {
        readAndCheck(files, algorithm, contents, failures, mismatches);
        return mismatches;
      } catch (ClosedByInterruptException e) {
        failures.clear();
      }
    }
    List<Mismatch> mismatches = new ArrayList<>();
    Throwable[] crashed = new Throwable[1];
    Thread thread =
        threads.newThread(
            () -> {
              try {
                readAndCheck(files, algorithm, contents, failures, mismatches);
              } catch (Throwable t) {
                crashed[0] = t;
              }
            });
    thread.start();
    Threads.joinUninterruptibly(thread);
    if (crashed[0] instanceof Error error) {
      throw error;
    }
    if (crashed[0] != null) {
      throw new IllegalStateException("reading checkpoint files failed unexpectedly", crashed[0]);
    }
    return mismatches;
  }

  /**
   * Where in {@code memory} each file is read: consecutive slices of the files' sizes, by path
   * (absolute, normalized), in the order of {@code files}. The buffer must hold them all.
   */
  private static Map<Path, ByteBuffer> slices(Map<CheckpointFile, Path> files, ByteBuffer memory) {
    Map<Path, ByteBuffer> slices = new LinkedHashMap<>();
    int start = 0;
    for (Map.Entry<CheckpointFile, Path> e : files.entrySet()) {
      int size = Math.toIntExact(e.getKey().size());
      slices.put(
          e.getValue().toAbsolutePath().normalize(),
          memory.duplicate().position(start).limit(start + size).slice());
      start += size;
    }
    return slices;
  }

  /**
   * Reads each file into its slice of {@code contents} ({@link #slices}) and checks it as {@link
   * #verify} checks the file; with CRC32C parts, part by part as each part arrives, so that the
   * check runs while the system reads ahead.
   *
   * @param failures receives the read failure of each file that could not be read
   * @param mismatches receives one mismatch per bad part (or whole file), in file and part order
   * @throws ClosedByInterruptException if this thread was interrupted while reading (every other
   *     read failure goes to {@code failures})
   */
  private static void readAndCheck(
      Map<CheckpointFile, Path> files,
      Algorithm algorithm,
      Map<Path, ByteBuffer> contents,
      Map<String, IOException> failures,
      List<Mismatch> mismatches)
      throws ClosedByInterruptException {
    for (Map.Entry<CheckpointFile, Path> e : files.entrySet()) {
      CheckpointFile expected = e.getKey();
      Path path = e.getValue().toAbsolutePath().normalize();
      ByteBuffer slice = contents.get(path).duplicate().clear();
      boolean byParts = algorithm == Algorithm.CRC32C && !expected.partCrc32c().isEmpty();
      try (FileChannel channel = FileChannel.open(e.getValue(), StandardOpenOption.READ)) {
        if (!byParts) {
          readFully(channel, slice, 0, expected.size(), e.getValue());
          mismatches.addAll(check(expected, slice, algorithm));
          continue;
        }
        CRC32C crc = new CRC32C();
        for (int p = 0; p < expected.partCrc32c().size(); p++) {
          long offset = p * expected.partSize();
          int length = (int) Math.min(expected.partSize(), expected.size() - offset);
          readFully(channel, slice, offset, length, e.getValue());
          crc.reset();
          crc.update(slice.duplicate().position((int) offset).limit((int) offset + length));
          String actual = hex(crc);
          if (!actual.equals(expected.partCrc32c().get(p))) {
            mismatches.add(
                new Mismatch(expected.name(), p, offset, length, Algorithm.CRC32C, actual));
          }
        }
      } catch (ClosedByInterruptException interrupted) {
        throw interrupted;
      } catch (IOException io) {
        failures.putIfAbsent(expected.name(), named(e.getValue(), io));
      }
    }
  }

  /** Reads bytes {@code offset} to {@code offset + length} of the file into the same range. */
  private static void readFully(
      FileChannel channel, ByteBuffer slice, long offset, long length, Path file)
      throws IOException {
    ByteBuffer range =
        slice.duplicate().position((int) offset).limit(Math.toIntExact(offset + length));
    while (range.hasRemaining()) {
      if (channel.read(range, range.position()) < 0) {
        throw new IOException(
            file
                + " ended at byte "
                + range.position()
                + " (the manifest says "
                + slice.capacity()
                + ")");
      }
    }
  }

  /** Checks bytes in memory against {@code expected}, as {@link #verify} checks a file. */
  private static List<Mismatch> check(
      CheckpointFile expected, ByteBuffer bytes, Algorithm algorithm) {
    List<Mismatch> mismatches = new ArrayList<>();
    if (algorithm == Algorithm.SHA256 || expected.partCrc32c().isEmpty()) {
      MessageDigest sha = newDigest();
      sha.update(bytes.duplicate());
      String actual = HexFormat.of().formatHex(sha.digest());
      if (!actual.equals(expected.sha256())) {
        mismatches.add(
            new Mismatch(expected.name(), -1, 0, expected.size(), Algorithm.SHA256, actual));
      }
      return mismatches;
    }
    CRC32C crc = new CRC32C();
    for (int p = 0; p < expected.partCrc32c().size(); p++) {
      long offset = p * expected.partSize();
      int length = (int) Math.min(expected.partSize(), expected.size() - offset);
      crc.reset();
      crc.update(bytes.duplicate().position((int) offset).limit((int) offset + length));
      String actual = hex(crc);
      if (!actual.equals(expected.partCrc32c().get(p))) {
        mismatches.add(new Mismatch(expected.name(), p, offset, length, Algorithm.CRC32C, actual));
      }
    }
    return mismatches;
  }

  /** CRC32C's polynomial, bit-reversed (as {@link CRC32C} computes it). */
  private static final int CASTAGNOLI = 0x82F63B78;

  /**
   * The CRC32C of A followed by B, from the CRC32C of A, that of B and B's length: the state after
   * A is advanced through {@code lengthB} zero bytes (by repeated squaring of the one-zero-bit
   * operator, as zlib combines CRC-32s) and B's CRC added.
   */
  public static int combineCrc32c(int crcA, int crcB, long lengthB) {
    return lengthB <= 0 ? crcA : shift(crcA, lengthB) ^ crcB;
  }

  /** The CRC32C state {@code crc} advanced through {@code length} zero bytes. */
  private static int shift(int crc, long length) {
    int[] even = new int[32]; // operator for 2^k zero bits, alternating with odd
    int[] odd = new int[32];
    odd[0] = CASTAGNOLI; // one zero bit
    int row = 1;
    for (int n = 1; n < 32; n++) {
      odd[n] = row;
      row <<= 1;
    }
    square(even, odd); // two zero bits
    square(odd, even); // four zero bits
    long remaining = length;
    do {
      square(even, odd); // the first pass gives one zero byte
      if ((remaining & 1) != 0) {
        crc = times(even, crc);
      }
      remaining >>>= 1;
      if (remaining == 0) {
        break;
      }
      square(odd, even);
      if ((remaining & 1) != 0) {
        crc = times(odd, crc);
      }
      remaining >>>= 1;
    } while (remaining != 0);
    return crc;
  }

  /** {@link #shift} by one full block as a matrix (shifting is linear), built once. */
  private static final int[] SHIFT_ONE_BLOCK = new int[32];

  static {
    for (int n = 0; n < 32; n++) {
      SHIFT_ONE_BLOCK[n] = shift(1 << n, MIN_PART_SIZE);
    }
  }

  private static int times(int[] matrix, int vector) {
    int sum = 0;
    for (int i = 0; vector != 0; i++, vector >>>= 1) {
      if ((vector & 1) != 0) {
        sum ^= matrix[i];
      }
    }
    return sum;
  }

  private static void square(int[] square, int[] matrix) {
    for (int n = 0; n < 32; n++) {
      square[n] = times(matrix, matrix[n]);
    }
  }

  /**
   * The part CRC32Cs of a file of {@code size} bytes from the CRC32C of each of its {@link
   * #MIN_PART_SIZE} blocks (the last one shorter): parts are whole numbers of blocks.
   */
  public static List<String> partCrc32c(long size, List<Integer> blockCrcs) {
    long partSize = partSize(size);
    int parts = partCount(size, partSize);
    int blocksPerPart = (int) (partSize / MIN_PART_SIZE);
    List<String> result = new ArrayList<>(parts);
    for (int p = 0; p < parts; p++) {
      int first = p * blocksPerPart;
      int last = Math.min(blockCrcs.size(), first + blocksPerPart);
      int crc = blockCrcs.get(first);
      for (int b = first + 1; b < last; b++) {
        long length = Math.min(MIN_PART_SIZE, size - b * MIN_PART_SIZE);
        crc =
            length == MIN_PART_SIZE
                ? times(SHIFT_ONE_BLOCK, crc) ^ blockCrcs.get(b)
                : combineCrc32c(crc, blockCrcs.get(b), length);
      }
      result.add(HexFormat.of().toHexDigits(crc));
    }
    return result;
  }

  /** Hex CRC32C of {@code bytes}, as the manifest records it (8 lowercase hex digits). */
  public static String crc32c(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length);
    return hex(crc);
  }

  private static String hex(CRC32C crc) {
    return HexFormat.of().toHexDigits((int) crc.getValue());
  }

  /**
   * Hex checksum of {@code length} bytes from {@code offset}, read through a direct buffer (no copy
   * into the Java heap; within ~15% of hashing a mapping, without a mapping's lifetime: an
   * unreleased mapping would keep a pruned checkpoint's disk space until the next GC).
   */
  private static String checksum(
      Path file,
      FileChannel channel,
      long offset,
      long length,
      Algorithm algorithm,
      ByteBuffer buffer)
      throws IOException {
    MessageDigest sha = algorithm == Algorithm.SHA256 ? newDigest() : null;
    CRC32C crc = algorithm == Algorithm.CRC32C ? new CRC32C() : null;
    for (long done = 0; done < length; ) {
      buffer.clear().limit((int) Math.min(buffer.capacity(), length - done));
      int n = channel.read(buffer, offset + done);
      if (n < 0) {
        throw new IOException(
            file + " ended at byte " + (offset + done) + " while it was hashed (it shrank)");
      }
      buffer.flip();
      if (sha != null) {
        sha.update(buffer);
      } else {
        crc.update(buffer);
      }
      done += n;
    }
    return sha != null ? HexFormat.of().formatHex(sha.digest()) : hex(crc);
  }

  /** One range of a file to checksum with {@code algorithm}. */
  private record Task(Path file, long offset, long length, Algorithm algorithm) {}

  /**
   * Hashes every task on up to one thread per core from {@code threads}, and never on the calling
   * thread: an interrupt of the caller would close the shared channels (NIO closes a channel whose
   * reading thread is interrupted) and make intact files look unreadable. Each result is the hex
   * checksum or the {@link IOException} its task threw, naming the file.
   */
  private static List<Object> runAll(List<Task> tasks, ThreadFactory threads) {
    Object[] results = new Object[tasks.size()];
    if (tasks.isEmpty()) {
      return Arrays.asList(results);
    }
    AtomicInteger next = new AtomicInteger();
    Map<Path, FileChannel> channels = new ConcurrentHashMap<>();
    Throwable[] crashed = new Throwable[1];
    Runnable worker =
        () -> {
          ByteBuffer buffer = takeBuffer();
          try {
            for (int i = next.getAndIncrement(); i < tasks.size(); i = next.getAndIncrement()) {
              Task task = tasks.get(i);
              try {
                FileChannel channel = channels.computeIfAbsent(task.file(), FileHashes::open);
                results[i] =
                    checksum(
                        task.file(),
                        channel,
                        task.offset(),
                        task.length(),
                        task.algorithm(),
                        buffer);
              } catch (UncheckedIOException e) {
                results[i] = named(task.file(), e.getCause());
              } catch (IOException e) {
                results[i] = named(task.file(), e);
              }
            }
          } catch (Throwable t) {
            synchronized (crashed) {
              if (crashed[0] == null) {
                crashed[0] = t;
              }
            }
          } finally {
            BUFFERS.offer(buffer); // kept if fewer than one per core are
          }
        };
    int n = Math.min(tasks.size(), Runtime.getRuntime().availableProcessors());
    List<Thread> started = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        Thread thread = threads.newThread(worker);
        thread.start();
        started.add(thread);
      }
    } finally {
      for (Thread thread : started) {
        Threads.joinUninterruptibly(thread); // hashing is bounded work: finish it
      }
      for (FileChannel channel : channels.values()) {
        try {
          channel.close();
        } catch (IOException e) {
          // opened read-only: nothing to lose
        }
      }
    }
    if (crashed[0] instanceof Error error) {
      throw error;
    }
    for (int i = 0; i < results.length; i++) {
      if (results[i] == null) {
        throw new IllegalStateException(
            "hashing " + tasks.get(i).file() + " failed unexpectedly", crashed[0]);
      }
    }
    return Arrays.asList(results);
  }

  /**
   * Direct read buffers kept between calls: allocating (and first touching) 4 MiB of native memory
   * per thread per call costs more than hashing a small checkpoint. At most one per core is kept.
   */
  private static final ArrayBlockingQueue<ByteBuffer> BUFFERS =
      new ArrayBlockingQueue<>(Runtime.getRuntime().availableProcessors());

  /** A direct read buffer: a kept one if free, else a new one. */
  private static ByteBuffer takeBuffer() {
    ByteBuffer buffer = BUFFERS.poll();
    return buffer != null ? buffer : ByteBuffer.allocateDirect(CHUNK);
  }

  private static FileChannel open(Path file) {
    try {
      return FileChannel.open(file, StandardOpenOption.READ);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The failure with the file named, unless the message already names it. */
  private static IOException named(Path file, IOException e) {
    String message = e.getMessage();
    if (message != null && message.contains(file.toString())) {
      return e;
    }
    return new IOException(file + ": " + (message != null ? message : e.toString()), e);
  }

  private static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("every Java platform supports SHA-256", e);
    }
  }
}

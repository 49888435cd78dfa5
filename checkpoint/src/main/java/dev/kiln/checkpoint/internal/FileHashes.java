package dev.kiln.checkpoint.internal;

import dev.kiln.checkpoint.CheckpointFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
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

/**
 * SHA-256 of checkpoint files and of their parts, on several threads.
 *
 * <p>SHA-256 runs at about 1.3 GB/s per core even with the CPU's SHA instructions, slower than
 * reading from the page cache. One file's digest is inherently sequential, so a file larger than
 * {@link #MIN_PART_SIZE} also gets a digest per part ({@link #partSize(long)}); verification checks
 * the parts, all at once, and scales with the cores. The whole-file digest is still written (tools
 * such as {@code sha256sum} and the mirror check it).
 */
public final class FileHashes {

  /** Files up to this size have one part: the whole file. */
  public static final long MIN_PART_SIZE = 1L << 20;

  private static final int MAX_PARTS = 64;
  private static final int CHUNK = 4 << 20;

  private FileHashes() {}

  /**
   * The part size for a file of {@code size} bytes: 0 (no parts) up to {@link #MIN_PART_SIZE}, else
   * the smallest power of two ≥ 1 MiB that splits it into at most 64 parts.
   */
  public static long partSize(long size) {
    if (size <= MIN_PART_SIZE) {
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
   * Describes {@code files} (relative name to path): size, whole-file SHA-256 and, for files over 1
   * MiB, the SHA-256 of each part.
   */
  public static Map<String, CheckpointFile> describe(Map<String, Path> files, ThreadFactory threads)
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
      tasks.add(new Task(file, 0, size));
    }
    // Parts after the whole-file digests: those are the longest tasks and go first.
    for (Map.Entry<String, Path> e : files.entrySet()) {
      long size = sizes.get(e.getKey());
      long partSize = partSize(size);
      for (int p = 0; p < partCount(size, partSize); p++) {
        long offset = p * partSize;
        long length = Math.min(partSize, size - offset);
        tasks.add(new Task(e.getValue(), offset, length));
      }
    }
    List<String> digests = new ArrayList<>(tasks.size());
    for (Object result : runAll(tasks, threads)) {
      if (result instanceof IOException io) {
        throw io;
      }
      digests.add((String) result);
    }
    Map<String, CheckpointFile> result = new LinkedHashMap<>();
    int whole = 0;
    int part = files.size();
    for (String name : files.keySet()) {
      long size = sizes.get(name);
      long partSize = partSize(size);
      int count = partCount(size, partSize);
      List<String> parts = List.copyOf(digests.subList(part, part + count));
      part += count;
      result.put(name, new CheckpointFile(name, size, digests.get(whole++), partSize, parts));
    }
    return result;
  }

  /**
   * A part (or, with {@code part} -1, the whole file) whose digest differs from the manifest.
   *
   * @param part zero-based part index, or -1 for a file without parts
   */
  public record Mismatch(String name, int part, long offset, long length, String actual) {}

  private record Slot(String name, int part, long offset, long length, String expected) {}

  /**
   * Checks each file's contents against its manifest entry: the parts if it has any, else the whole
   * file. Sizes must have been checked already.
   *
   * @param failures receives the first read failure of each file that could not be read
   * @return one mismatch per bad part (or whole file), in file and part order
   */
  public static List<Mismatch> verify(
      Map<CheckpointFile, Path> files, ThreadFactory threads, Map<String, IOException> failures) {
    List<Task> tasks = new ArrayList<>();
    List<Slot> slots = new ArrayList<>();
    for (Map.Entry<CheckpointFile, Path> e : files.entrySet()) {
      CheckpointFile expected = e.getKey();
      Path file = e.getValue();
      if (expected.partSha256().isEmpty()) {
        tasks.add(new Task(file, 0, expected.size()));
        slots.add(new Slot(expected.name(), -1, 0, expected.size(), expected.sha256()));
      } else {
        for (int p = 0; p < expected.partSha256().size(); p++) {
          long offset = p * expected.partSize();
          long length = Math.min(expected.partSize(), expected.size() - offset);
          tasks.add(new Task(file, offset, length));
          slots.add(new Slot(expected.name(), p, offset, length, expected.partSha256().get(p)));
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
            new Mismatch(slot.name(), slot.part(), slot.offset(), slot.length(), (String) result));
      }
    }
    return mismatches;
  }

  /**
   * Hex SHA-256 of {@code length} bytes from {@code offset}, read through a direct buffer (no copy
   * into the Java heap; within ~15% of hashing a mapping, without a mapping's lifetime: an
   * unreleased mapping would keep a pruned checkpoint's disk space until the next GC).
   */
  private static String digest(
      Path file, FileChannel channel, long offset, long length, ByteBuffer buffer)
      throws IOException {
    MessageDigest digest = newDigest();
    for (long done = 0; done < length; ) {
      buffer.clear().limit((int) Math.min(buffer.capacity(), length - done));
      int n = channel.read(buffer, offset + done);
      if (n < 0) {
        throw new IOException(
            file + " ended at byte " + (offset + done) + " while it was hashed (it shrank)");
      }
      digest.update(buffer.flip());
      done += n;
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  /** A digest of one range of a file. */
  private record Task(Path file, long offset, long length) {}

  /**
   * Hashes every task on up to one thread per core from {@code threads}, and never on the calling
   * thread: an interrupt of the caller would close the shared channels (NIO closes a channel whose
   * reading thread is interrupted) and make intact files look unreadable. Each result is the hex
   * digest or the {@link IOException} its task threw, naming the file.
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
                results[i] = digest(task.file(), channel, task.offset(), task.length(), buffer);
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
            BUFFERS.offer(buffer);
          }
        };
    int n = Math.min(tasks.size(), Runtime.getRuntime().availableProcessors());
    List<Thread> started = new ArrayList<>();
    boolean interrupted = false;
    try {
      for (int i = 0; i < n; i++) {
        Thread thread = threads.newThread(worker);
        thread.start();
        started.add(thread);
      }
    } finally {
      for (Thread thread : started) {
        while (true) {
          try {
            thread.join();
            break;
          } catch (InterruptedException e) {
            interrupted = true; // hashing is bounded work: finish it, then restore the flag
          }
        }
      }
      for (FileChannel channel : channels.values()) {
        try {
          channel.close();
        } catch (IOException e) {
          // opened read-only: nothing to lose
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
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

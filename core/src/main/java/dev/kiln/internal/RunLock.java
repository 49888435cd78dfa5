package dev.kiln.internal;

import dev.kiln.TrainingException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One training run per run directory at a time: an OS file lock on {@code .kiln.lock}, held for the
 * whole fit. Two writers would interleave their metrics files and prune each other's checkpoints,
 * and a resume could pick up the other run's state. The operating system releases the lock when the
 * process dies, so a killed run never blocks the next one.
 */
final class RunLock implements AutoCloseable {

  static final String FILE_NAME = ".kiln.lock";

  private static final Logger log = LoggerFactory.getLogger(RunLock.class);

  private final FileChannel channel;
  private final FileLock lock;

  private RunLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the lock on {@code runDirectory}, or fails naming who holds it. On a file system without
   * locks (some network mounts) it logs a warning and returns a lock that holds nothing.
   *
   * @throws TrainingException if another fit in this JVM or another process holds it
   */
  static RunLock acquire(Path runDirectory) {
    Path file = runDirectory.resolve(FILE_NAME);
    FileChannel channel;
    try {
      channel =
          FileChannel.open(
              file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    } catch (IOException e) {
      log.warn(
          "Cannot create {} ({}); a second run writing to {} at the same time would not be"
              + " detected",
          file,
          e.toString(),
          runDirectory);
      return new RunLock(null, null);
    }
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      closeQuietly(channel);
      throw new TrainingException(
          "Another fit in this JVM is still running in "
              + runDirectory
              + " (a notebook cell still running, or a fit on another thread) — wait for it to"
              + " finish or stop it, or train under another run name");
    } catch (IOException e) {
      closeQuietly(channel);
      log.warn(
          "Cannot lock {} ({}); a second run writing to {} at the same time would not be"
              + " detected",
          file,
          e.toString(),
          runDirectory);
      return new RunLock(null, null);
    }
    if (lock == null) {
      String owner = readOwner(channel);
      closeQuietly(channel);
      throw new TrainingException(
          "Another process"
              + (owner.isEmpty() ? "" : " (" + owner + ")")
              + " is training in "
              + runDirectory
              + " — stop it first (check with ps), or train under another run name");
    }
    try {
      String owner = "pid " + ProcessHandle.current().pid();
      if (!owner.equals(readOwner(channel))) { // a refused run in this process changes nothing
        channel.truncate(0);
        channel.write(ByteBuffer.wrap(owner.getBytes(StandardCharsets.UTF_8)), 0);
      }
    } catch (IOException e) {
      log.debug("Cannot record the owner in {}", file, e);
    }
    return new RunLock(channel, lock);
  }

  private static String readOwner(FileChannel channel) {
    try {
      ByteBuffer buffer = ByteBuffer.allocate(64);
      channel.read(buffer, 0);
      return new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      return "";
    }
  }

  /** Releases the lock; the file stays (deleting it could race with the next run's lock). */
  @Override
  public void close() {
    if (lock != null) {
      try {
        lock.release();
      } catch (IOException e) {
        log.debug("Releasing the run lock", e);
      }
    }
    if (channel != null) {
      closeQuietly(channel);
    }
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // nothing was written that matters
    }
  }
}

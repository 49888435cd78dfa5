package dev.kiln.data.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serialises staging into one target across threads and processes (several training processes on
 * one machine each call {@code stage()}; one extracts, the others wait and then reuse). The lock
 * file is left in place: deleting it would let two processes lock different files.
 */
final class StagingLock implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StagingLock.class);
  private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS =
      new ConcurrentHashMap<>();

  private final ReentrantLock local;
  private final FileChannel channel;
  private final FileLock lock;

  private StagingLock(ReentrantLock local, FileChannel channel, FileLock lock) {
    this.local = local;
    this.channel = channel;
    this.lock = lock;
  }

  static StagingLock acquire(Path lockFile) {
    ReentrantLock local = IN_PROCESS.computeIfAbsent(lockFile, p -> new ReentrantLock());
    local.lock();
    FileChannel channel = null;
    try {
      channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock lock = channel.tryLock();
      if (lock == null) {
        LOG.info(
            "Waiting for another process that is staging into the same directory (lock {})",
            lockFile);
        lock = channel.lock();
      }
      return new StagingLock(local, channel, lock);
    } catch (IOException | RuntimeException e) {
      LOG.warn(
          "Could not lock {} ({}); staging continues, but concurrent staging into the same"
              + " directory from another process is not prevented",
          lockFile,
          e.toString());
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException ignored) {
          // nothing to do
        }
      }
      return new StagingLock(local, null, null);
    }
  }

  @Override
  public void close() {
    try {
      if (lock != null) {
        lock.release();
      }
      if (channel != null) {
        channel.close();
      }
    } catch (IOException e) {
      LOG.debug("Releasing the staging lock failed", e);
    } finally {
      local.unlock();
    }
  }
}

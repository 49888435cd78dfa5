package dev.kiln.data.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Flushes extracted files to the device on a pool of threads while extraction goes on. One fsync
 * costs milliseconds of waiting on the device but almost no CPU, so many in flight at once make
 * 20,000 of them cost about as much as a single {@code sync}, instead of a minute one by one.
 */
final class StagingSyncer implements AutoCloseable {
  private final StagingFileOps ops;
  private final ThreadPoolExecutor pool;
  private final List<Future<?>> pending = new ArrayList<>();

  StagingSyncer(StagingFileOps ops, int threads) {
    this.ops = ops;
    AtomicInteger n = new AtomicInteger();
    this.pool =
        new ThreadPoolExecutor(
            threads,
            threads,
            1,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            r -> {
              Thread t = new Thread(r, "kiln-staging-fsync-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.pool.allowCoreThreadTimeOut(true);
  }

  void file(Path file) {
    pending.add(
        pool.submit(
            () -> {
              try {
                ops.forceFile(file);
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            }));
  }

  void directory(Path dir) {
    pending.add(
        pool.submit(
            () -> {
              try {
                ops.forceDirectory(dir);
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            }));
  }

  /** Waits for every flush submitted so far; throws the first failure. */
  void await() throws IOException {
    try {
      for (Future<?> f : pending) {
        f.get();
      }
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof UncheckedIOException) {
        throw ((UncheckedIOException) cause).getCause();
      }
      throw new IOException("flushing extracted files failed: " + cause, cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while flushing extracted files");
    } finally {
      pending.clear();
    }
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}

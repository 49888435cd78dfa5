package dev.kiln.internal;

import dev.kiln.checkpoint.Checkpoint;
import dev.kiln.checkpoint.CheckpointFile;
import dev.kiln.checkpoint.CheckpointRequest;
import dev.kiln.checkpoint.CheckpointStore;
import dev.kiln.checkpoint.Retention;
import dev.kiln.checkpoint.Verification;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies committed checkpoints and the run's logs to durable storage (a mounted drive, a data disk)
 * in the background. Each mirrored checkpoint is verified against the source's checksums and
 * committed atomically in a checkpoint store of its own, with the same retention, so the mirror
 * never holds a half-copied checkpoint and never holds none once one was mirrored. Training never
 * waits: when the mirror is slower than training, only the newest pending checkpoint is copied.
 */
public final class CheckpointMirror implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CheckpointMirror.class);

  /** How bytes travel to the mirror; replaceable to simulate slow or failing storage in tests. */
  public interface Copier {
    void copy(Path from, Path to) throws IOException;

    /** Plain buffered copy with fsync. */
    static Copier standard() {
      return (from, to) -> {
        try (InputStream in = Files.newInputStream(from);
            FileChannel ch =
                FileChannel.open(to, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
          in.transferTo(out);
          out.flush();
          ch.force(true);
        }
      };
    }
  }

  static final String LOGS = "logs";
  static final int MAX_ATTEMPTS = 3;

  private final Path localRun;
  private final Path mirrorRun;
  private final CheckpointStore store;
  private final Copier copier;
  private final Object lock = new Object();
  private final Thread thread;
  private Checkpoint pending;
  private boolean busy;
  private boolean closed;
  private final AtomicLong failures = new AtomicLong();
  private final AtomicLong mirrored = new AtomicLong();
  private volatile Checkpoint lastMirrored;

  public CheckpointMirror(
      Path localRun,
      Path mirrorRun,
      Retention retention,
      Map<String, String> versions,
      Clock clock,
      Copier copier,
      ThreadFactory threads,
      Verification verification) {
    this.localRun = localRun;
    this.mirrorRun = mirrorRun;
    this.copier = copier;
    try {
      Files.createDirectories(mirrorRun);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "Cannot create the mirror directory "
              + mirrorRun
              + ": "
              + e
              + " — check that the drive is mounted and writable, or drop the mirror option",
          e);
    }
    this.store =
        CheckpointStore.builder(mirrorRun.resolve("checkpoints"))
            .retention(retention)
            .versions(versions)
            .clock(clock)
            .verification(verification)
            .build();
    this.thread = threads.newThread(this::run);
    thread.setName("kiln-mirror");
    thread.setDaemon(true);
    thread.start();
  }

  /** The mirror's own store, for resume. */
  public CheckpointStore store() {
    return store;
  }

  /** Queues a committed local checkpoint (replacing any not yet started) and returns at once. */
  public void submit(Checkpoint committed) {
    synchronized (lock) {
      pending = committed;
      lock.notifyAll();
    }
  }

  /** Waits until nothing is pending or being copied, at most {@code timeout}. */
  public boolean awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      while (pending != null || busy) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        lock.wait(Math.max(1, left / 1_000_000));
      }
      return true;
    }
  }

  public long failures() {
    return failures.get();
  }

  public long mirrored() {
    return mirrored.get();
  }

  public Optional<Checkpoint> lastMirrored() {
    return Optional.ofNullable(lastMirrored);
  }

  private void run() {
    while (true) {
      Checkpoint next;
      synchronized (lock) {
        while (pending == null && !closed) {
          try {
            lock.wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        if (pending == null) {
          return;
        }
        next = pending;
        pending = null;
        busy = true;
      }
      try {
        mirrorWithRetries(next);
      } finally {
        synchronized (lock) {
          busy = false;
          lock.notifyAll();
        }
      }
    }
  }

  private void mirrorWithRetries(Checkpoint c) {
    for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        mirror(c);
        return;
      } catch (IOException | RuntimeException e) {
        long n = failures.incrementAndGet();
        if (attempt == MAX_ATTEMPTS) {
          log.warn(
              "Mirroring checkpoint {} to {} failed {} times ({}); training goes on with local"
                  + " checkpoints only until the next one mirrors. Check the drive.",
              c.name(),
              mirrorRun,
              attempt,
              e.toString());
        } else if (n == 1) {
          log.info("Mirroring {} failed ({}); retrying", c.name(), e.toString());
        }
      }
    }
  }

  /** Copies one checkpoint (verified against its manifest) and then the logs. */
  void mirror(Checkpoint c) throws IOException {
    if (lastMirrored == null || !lastMirrored.name().equals(c.name())) {
      Checkpoint copy = copyCheckpoint(c, store, copier);
      lastMirrored = copy;
      mirrored.incrementAndGet();
      log.debug("Mirrored {} to {}", c.name(), copy.directory());
    }
    syncLogs(localRun, mirrorRun.resolve(LOGS), copier);
  }

  /**
   * Copies a committed checkpoint into {@code target}, checking every file against the source's
   * SHA-256 before the target store commits it.
   */
  static Checkpoint copyCheckpoint(Checkpoint c, CheckpointStore target, Copier copier) {
    CheckpointRequest request =
        CheckpointRequest.builder(c.epoch(), c.step())
            .metrics(c.metrics())
            .metadata(c.metadata())
            .build();
    return target.save(
        request,
        dir -> {
          for (CheckpointFile f : c.files().values()) {
            Path to = dir.resolve(f.name());
            Files.createDirectories(to.getParent());
            copier.copy(c.file(f.name()), to);
            String sha = sha256(to);
            if (!sha.equals(f.sha256())) {
              throw new IOException(
                  "copy of "
                      + f.name()
                      + " has SHA-256 "
                      + sha
                      + " but the source manifest says "
                      + f.sha256()
                      + " — the storage corrupted it");
            }
          }
        });
  }

  /**
   * Brings {@code to} up to date with the run's log files in {@code from} (everything but
   * checkpoints): each changed file is copied to a temporary name and renamed into place.
   */
  static void syncLogs(Path from, Path to, Copier copier) throws IOException {
    if (!Files.isDirectory(from)) {
      return;
    }
    List<Path> files;
    try (Stream<Path> s = Files.walk(from)) {
      files =
          s.filter(Files::isRegularFile)
              .filter(p -> !from.relativize(p).startsWith("checkpoints"))
              .filter(p -> !p.getFileName().toString().endsWith(".tmp"))
              .filter(p -> !p.getFileName().toString().equals(RunLock.FILE_NAME))
              .toList();
    }
    for (Path f : files) {
      Path target = to.resolve(from.relativize(f).toString());
      if (Files.exists(target)
          && Files.size(target) == Files.size(f)
          && !Files.getLastModifiedTime(f)
              .toInstant()
              .isAfter(Files.getLastModifiedTime(target).toInstant())) {
        continue;
      }
      Files.createDirectories(target.getParent());
      Path tmp = target.resolveSibling("." + target.getFileName() + ".kiln-tmp");
      Files.deleteIfExists(tmp);
      try {
        copier.copy(f, tmp);
      } catch (java.nio.file.NoSuchFileException gone) {
        continue; // a tracker rotated it away meanwhile
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  static String sha256(Path file) throws IOException {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      try (InputStream in = Files.newInputStream(file)) {
        byte[] buf = new byte[1 << 16];
        int n;
        while ((n = in.read(buf)) > 0) {
          md.update(buf, 0, n);
        }
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      lock.notifyAll();
    }
  }
}

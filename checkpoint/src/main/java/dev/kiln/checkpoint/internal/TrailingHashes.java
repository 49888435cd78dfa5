package dev.kiln.checkpoint.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;
import java.util.zip.CRC32C;

/**
 * The SHA-256 of files a save is writing, computed while they are being written.
 *
 * <p>A file's SHA-256 is sequential and runs at about 1.3 GB/s per core, slower than writing. A
 * save hashing after the writer returns therefore takes write + hash; hashing behind the writer
 * takes about the longer of the two. The store opens a {@link Session} around its writer; {@code
 * TensorFile.write} on that thread asks for a {@link Tracker} and reports how far it has written.
 * Once a file passes {@link #START_BYTES}, a thread from the store's factory reads the written
 * bytes back from the page cache and computes, from the same buffer, their SHA-256 and the CRC32C
 * of each 1 MiB block. At most {@link #MAX_ACTIVE} files are followed at once; others (and small
 * files) are hashed by the store afterwards.
 *
 * <p>The store trusts a tracker's SHA-256 only if the part CRC32Cs it computes from the finished
 * file equal those the tracker computed from the bytes it hashed: a file changed after it was
 * followed, however its timestamps look, is hashed again.
 */
public final class TrailingHashes {

  /** A file is followed once this much of it is written. */
  public static final long START_BYTES = FileHashes.MIN_PART_SIZE;

  /** Files followed at the same time, per save. */
  public static final int MAX_ACTIVE = 2;

  private static final ThreadLocal<Session> CURRENT = new ThreadLocal<>();
  private static final long BLOCK = FileHashes.MIN_PART_SIZE;

  private TrailingHashes() {}

  /** Starts tracking files written under {@code root} on this thread, until closed. */
  public static Session open(Path root, ThreadFactory threads) {
    Session session = new Session(root.toAbsolutePath().normalize(), threads, CURRENT.get());
    CURRENT.set(session);
    return session;
  }

  /**
   * A tracker for {@code file}, or null if no save on this thread is writing into a directory that
   * holds it. Call once the file exists (after opening it for writing).
   */
  public static Tracker track(Path file) {
    Session session = CURRENT.get();
    if (session == null) {
      return null;
    }
    Path path = file.toAbsolutePath().normalize();
    if (!path.startsWith(session.root)) {
      return null;
    }
    return session.track(path);
  }

  /** The files one save's writer wrote on the store's thread. */
  public static final class Session implements AutoCloseable {
    private final Path root;
    private final ThreadFactory threads;
    private final Session outer; // a save in progress on this thread when this one began
    private final Map<Path, Tracker> trackers = new LinkedHashMap<>(); // guarded by this
    private int active; // guarded by this
    private boolean closed; // guarded by this

    private Session(Path root, ThreadFactory threads, Session outer) {
      this.root = root;
      this.threads = Objects.requireNonNull(threads, "threads == null");
      this.outer = outer;
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

    /** Whether a thread followed {@code file} as it was written (its result may be unusable). */
    public synchronized boolean isFollowed(Path file) {
      Tracker tracker = trackers.get(file.toAbsolutePath().normalize());
      return tracker != null && tracker.thread != null;
    }

    /**
     * Waits for {@code file}'s tracker; returns what it computed if the writer finished and the
     * tracker hashed every byte the writer reported, else null. The caller must still check the
     * part CRC32Cs against the file (see the class comment).
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

  /** Follows one file as it is written. */
  public static final class Tracker {
    private final Session session;
    private final Path file;
    private volatile Thread thread; // set once, by the writer's thread
    private boolean startTried; // writer's thread only
    // Guarded by this.
    private long written;
    private boolean finished;
    private boolean failed;
    private boolean cancelled;
    private Digests digests;

    private Tracker(Session session, Path file) {
      this.session = session;
      this.file = file;
    }

    /** The writer has written the first {@code bytes} bytes of the file. */
    public void written(long bytes) {
      synchronized (this) {
        written = bytes;
        notifyAll();
      }
      if (!startTried && bytes >= START_BYTES) {
        startTried = true;
        session.startThread(this);
      }
    }

    /** The writer is done and has closed the file. */
    public synchronized void finished() {
      finished = true;
      notifyAll();
    }

    /** The writer failed; the result is not used. */
    public synchronized void failed() {
      failed = true;
      finished = true;
      notifyAll();
    }

    private void cancel() {
      synchronized (this) {
        cancelled = true;
        notifyAll();
      }
      Threads.joinUninterruptibly(thread);
    }

    private Digests result() {
      synchronized (this) {
        if (!finished || thread == null) {
          return null; // unfinished writer (close() stops the thread), or never followed
        }
      }
      Threads.joinUninterruptibly(thread);
      synchronized (this) {
        return failed || digests == null || digests.size() != written ? null : digests;
      }
    }

    private void run() {
      ByteBuffer buffer = FileHashes.takeBuffer();
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        CRC32C crc = new CRC32C();
        List<Integer> blocks = new ArrayList<>();
        long position = 0;
        while (true) {
          long limit;
          synchronized (this) {
            while (!cancelled && !failed && written == position && !finished) {
              wait();
            }
            if (cancelled || failed) {
              return;
            }
            if (written == position && finished) {
              break;
            }
            limit = written;
          }
          buffer.clear().limit((int) Math.min(buffer.capacity(), limit - position));
          int n = channel.read(buffer, position);
          if (n < 0) {
            return; // truncated under us: no result, so the store hashes the file itself
          }
          buffer.flip();
          sha.update(buffer.duplicate());
          // The CRC32C of each 1 MiB block, from the same bytes the SHA-256 saw.
          while (buffer.hasRemaining()) {
            long blockEnd = (position / BLOCK + 1) * BLOCK;
            int slice = (int) Math.min(buffer.remaining(), blockEnd - position);
            crc.update(buffer.duplicate().limit(buffer.position() + slice));
            buffer.position(buffer.position() + slice);
            position += slice;
            if (position == blockEnd) {
              blocks.add((int) crc.getValue());
              crc.reset();
            }
          }
        }
        if (position % BLOCK != 0) {
          blocks.add((int) crc.getValue());
        }
        Digests result =
            new Digests(
                position,
                HexFormat.of().formatHex(sha.digest()),
                FileHashes.partCrc32c(position, blocks));
        synchronized (this) {
          digests = result;
        }
      } catch (IOException | NoSuchAlgorithmException | RuntimeException e) {
        // no result: the store hashes the file itself
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        FileHashes.giveBuffer(buffer);
        session.threadEnded();
      }
    }
  }
}

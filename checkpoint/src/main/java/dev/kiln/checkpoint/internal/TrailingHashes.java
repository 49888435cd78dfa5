package dev.kiln.checkpoint.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
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
 * Checksums (SHA-256 and part CRC32Cs) of the files a save is writing, computed while they are
 * being written.
 *
 * <p>A file's SHA-256 is sequential and runs at about 1.3 GB/s per core, slower than writing. A
 * save hashing after the writer returns therefore takes write + hash; hashing behind the writer
 * takes about the longer of the two. The store opens a {@link Session} around its writer; {@code
 * TensorFile.write} on that thread asks for a {@link Tracker} and reports how far it has written; a
 * thread from the store's factory reads those bytes back from the page cache and hashes them. The
 * store uses a result only if the file still has the size, modification time and identity it had
 * when the writer finished; otherwise it hashes the file itself.
 */
public final class TrailingHashes {

  private static final ThreadLocal<Session> CURRENT = new ThreadLocal<>();
  private static final int CHUNK = 4 << 20;
  private static final long BLOCK = FileHashes.MIN_PART_SIZE;

  private TrailingHashes() {}

  /** Starts tracking files written under {@code root} on this thread, until closed. */
  public static Session open(Path root, ThreadFactory threads) {
    Session session = new Session(root.toAbsolutePath().normalize(), threads);
    CURRENT.set(session);
    return session;
  }

  /**
   * A tracker hashing {@code file} as it is written, or null if no save on this thread is writing
   * into a directory that holds it. Call once the file exists (after opening it for writing).
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
    return session.start(path);
  }

  /** The files one save's writer wrote on the store's thread. */
  public static final class Session implements AutoCloseable {
    private final Path root;
    private final ThreadFactory threads;
    private final Map<Path, Tracker> trackers = new LinkedHashMap<>();

    private Session(Path root, ThreadFactory threads) {
      this.root = root;
      this.threads = Objects.requireNonNull(threads, "threads == null");
    }

    private synchronized Tracker start(Path path) {
      Tracker previous = trackers.remove(path);
      if (previous != null) {
        previous.cancel(); // written again: only the last write counts
      }
      Tracker tracker = new Tracker(path);
      try {
        // One thread per checksum: SHA-256 is the slow one, and the two share the cores.
        tracker.shaThread = threads.newThread(() -> tracker.run(true));
        tracker.shaThread.start();
        tracker.crcThread = threads.newThread(() -> tracker.run(false));
        tracker.crcThread.start();
      } catch (RuntimeException e) {
        // No threads to spare: the file is written untracked and the store hashes it afterwards.
        tracker.cancel();
        return null;
      }
      trackers.put(path, tracker);
      return tracker;
    }

    /** Stops handing out trackers on this thread; the ones started keep hashing. */
    public void endWriting() {
      if (CURRENT.get() == this) {
        CURRENT.remove();
      }
    }

    /**
     * Waits for {@code file}'s tracker; returns its checksums if it hashed exactly what the file
     * holds now, else null (not tracked, failed, or the file changed after its writer finished).
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
      if (CURRENT.get() == this) {
        CURRENT.remove();
      }
      Tracker[] all;
      synchronized (this) {
        all = trackers.values().toArray(new Tracker[0]);
      }
      for (Tracker tracker : all) {
        tracker.cancel();
      }
    }
  }

  /** What a tracker computed: the file's size, SHA-256 and part CRC32Cs. */
  public record Digests(long size, String sha256, List<String> partCrc32c) {}

  /** Follows one file as it is written. */
  public static final class Tracker {
    private final Path file;
    private Thread shaThread;
    private Thread crcThread;
    // Guarded by this.
    private long written;
    private boolean finished;
    private boolean failed;
    private boolean cancelled;
    private BasicFileAttributes finalAttributes;
    private long shaBytes = -1;
    private String sha256;
    private long crcBytes = -1;
    private List<Integer> blockCrcs;

    private Tracker(Path file) {
      this.file = file;
    }

    /** The writer has written the first {@code bytes} bytes of the file. */
    public synchronized void written(long bytes) {
      written = bytes;
      notifyAll();
    }

    /** The writer is done; the file is complete. */
    public void finished() {
      BasicFileAttributes attributes = attributes(file);
      synchronized (this) {
        finalAttributes = attributes;
        finished = true;
        failed |= attributes == null;
        notifyAll();
      }
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
      Threads.joinUninterruptibly(shaThread);
      Threads.joinUninterruptibly(crcThread);
    }

    private Digests result() {
      synchronized (this) {
        if (!finished) {
          return null; // the writer left it unfinished; close() stops the threads
        }
      }
      Threads.joinUninterruptibly(shaThread);
      Threads.joinUninterruptibly(crcThread);
      BasicFileAttributes now = attributes(file);
      synchronized (this) {
        if (sha256 == null
            || blockCrcs == null
            || failed
            || now == null
            || finalAttributes == null
            || shaBytes != now.size()
            || crcBytes != now.size()
            || now.size() != finalAttributes.size()
            || !now.lastModifiedTime().equals(finalAttributes.lastModifiedTime())
            || !Objects.equals(now.fileKey(), finalAttributes.fileKey())) {
          return null;
        }
        return new Digests(shaBytes, sha256, FileHashes.partCrc32c(crcBytes, blockCrcs));
      }
    }

    /**
     * Follows the writer, computing the SHA-256 ({@code sha}) or the CRC32C of each 1 MiB block.
     */
    private void run(boolean sha) {
      MessageDigest digest = null;
      if (sha) {
        try {
          digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
          throw new AssertionError("every Java platform supports SHA-256", e);
        }
      }
      ByteBuffer buffer = ByteBuffer.allocateDirect(CHUNK);
      CRC32C crc = new CRC32C();
      List<Integer> blocks = new ArrayList<>();
      long position = 0;
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
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
          buffer.clear().limit((int) Math.min(CHUNK, limit - position));
          int n = channel.read(buffer, position);
          if (n < 0) {
            return; // truncated under us: not done, so the store hashes the file itself
          }
          buffer.flip();
          if (sha) {
            digest.update(buffer);
            position += n;
            continue;
          }
          // A CRC32C per 1 MiB block; the parts' CRC32Cs are combined from them at the end.
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
        if (sha) {
          String hex = HexFormat.of().formatHex(digest.digest());
          synchronized (this) {
            shaBytes = position;
            sha256 = hex;
          }
        } else {
          if (position % BLOCK != 0) {
            blocks.add((int) crc.getValue());
          }
          synchronized (this) {
            crcBytes = position;
            blockCrcs = blocks;
          }
        }
      } catch (IOException e) {
        // not done: the store hashes the file itself
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static BasicFileAttributes attributes(Path file) {
    try {
      return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (IOException e) {
      return null;
    }
  }
}

package dev.kiln.checkpoint;

import ai.djl.ndarray.NDList;
import dev.kiln.checkpoint.internal.CheckpointName;
import dev.kiln.checkpoint.internal.Failures;
import dev.kiln.checkpoint.internal.FileHashes;
import dev.kiln.checkpoint.internal.FileOps;
import dev.kiln.checkpoint.internal.Manifest;
import dev.kiln.checkpoint.internal.Preloaded;
import dev.kiln.checkpoint.internal.RetentionPlan;
import dev.kiln.checkpoint.internal.Threads;
import dev.kiln.checkpoint.internal.TrailingHashes;
import dev.kiln.checkpoint.internal.Writeback;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints in one directory, saved atomically and loaded only after verification.
 *
 * <p>A save writes into a temporary directory ({@code .tmp-*}), syncs every file, writes {@code
 * manifest.json} (size and SHA-256 of every file, and the CRC32C of every part of it) last, renames
 * the directory into place atomically and syncs the parent directory. Only then are older
 * checkpoints pruned by the {@link Retention}. A save that fails throws {@link
 * CheckpointException}, deletes its temporary directory and leaves every committed checkpoint as it
 * was. Temporary directories left by a killed process are deleted when a store is built and before
 * each save.
 *
 * <p>{@link #latestValid()} returns the newest checkpoint whose manifest and checksums verify;
 * anything newer that fails is logged at WARN, skipped, and listed in {@link #problems()}. Every
 * byte is checked, by default against the part CRC32Cs on all cores at once (see {@link
 * Verification}). {@link #latestValid(CheckpointReader)} also reads the checkpoint: a small one
 * from the bytes it verified, a large one while it is being verified.
 *
 * <p>Thread-safe. One process should write to a directory at a time: a second writer's temporary
 * directory may be cleaned up under it.
 */
public final class CheckpointStore {

  private static final Logger log = LoggerFactory.getLogger(CheckpointStore.class);
  private static final long PID = ProcessHandle.current().pid();
  private static final AtomicInteger THREAD_NUMBER = new AtomicInteger();
  private static final ThreadFactory DEFAULT_THREADS =
      runnable -> {
        Thread thread = new Thread(runnable, "kiln-checkpoint-" + THREAD_NUMBER.incrementAndGet());
        thread.setDaemon(true);
        return thread;
      };

  private final Path directory;
  private final Retention retention;
  private final Clock clock;
  private final Map<String, String> versions;
  private final FileOps fileOps;
  private final ThreadFactory threadFactory;
  private final boolean directIo; // large tensor files go to the device with O_DIRECT
  private final boolean writeback; // the writer starts early flushes with sync_file_range
  private final Executor deleter;

  /** Pruned checkpoints the deleter is deleting, which a cleanup leaves alone. */
  private final Set<Path> deleting = ConcurrentHashMap.newKeySet();

  private final long concurrentReadBytes;
  private final Verification verification;
  private volatile List<CheckpointProblem> problems = List.of();

  private CheckpointStore(Builder builder) {
    this.directory = builder.directory;
    this.retention = builder.retention;
    this.clock = builder.clock;
    this.versions = Collections.unmodifiableMap(new LinkedHashMap<>(builder.versions));
    this.fileOps = builder.fileOps;
    this.threadFactory = builder.threadFactory;
    this.concurrentReadBytes = builder.concurrentReadBytes;
    this.verification = builder.verification;
    this.deleter =
        builder.deleter != null ? builder.deleter : task -> threadFactory.newThread(task).start();
    this.directIo = TrailingHashes.directIoSuits(directory);
    this.writeback = writebackSuits(directory);
  }

  /**
   * Starts a store over {@code directory}, which is created on {@link Builder#build()} if missing.
   *
   * <p>Defaults: {@link Retention#defaults()} (keep the last 3), {@link Clock#systemUTC()},
   * versions {@code java} and {@code djl}.
   */
  public static Builder builder(Path directory) {
    return new Builder(directory);
  }

  public Builder toBuilder() {
    Builder builder = new Builder(directory);
    builder.retention = retention;
    builder.clock = clock;
    builder.versions.clear();
    builder.versions.putAll(versions);
    builder.fileOps = fileOps;
    builder.threadFactory = threadFactory;
    builder.deleter = deleter;
    builder.concurrentReadBytes = concurrentReadBytes;
    builder.verification = verification;
    return builder;
  }

  public Path directory() {
    return directory;
  }

  public Retention retention() {
    return retention;
  }

  /** How loading checks contents; default {@link Verification#CRC32C}. */
  public Verification verification() {
    return verification;
  }

  /** Versions recorded in every manifest this store writes. */
  public Map<String, String> versions() {
    return versions;
  }

  /**
   * Saves one checkpoint: calls {@code writer} with an empty temporary directory, then syncs and
   * checksums what it wrote, writes the manifest, commits by atomic rename and prunes older
   * checkpoints.
   *
   * <p>If a committed checkpoint with the same step and epoch exists, the new one gets a {@code
   * .1}, {@code .2}, ... suffix and counts as newer. Files of 1 MiB or more written with {@link
   * TensorFile#write} on this thread are hashed while written and keep a modification time about 10
   * s before the save (see {@link TensorFile}).
   *
   * @return the committed checkpoint
   * @throws CheckpointException if anything fails before the commit is durable; the message names
   *     the path, the cause and a fix. The temporary directory is removed and earlier checkpoints
   *     are untouched. A failed prune is only logged.
   */
  public synchronized Checkpoint save(CheckpointRequest request, CheckpointWriter writer) {
    Objects.requireNonNull(request, "request == null");
    Objects.requireNonNull(writer, "writer == null");
    CheckpointName name = freeName(new CheckpointName(request.step(), request.epoch(), 0));
    Path temp =
        directory.resolve(CheckpointName.TEMP_PREFIX + "save-" + name + "-" + randomSuffix());
    Path target = directory.resolve(name.toString());
    Progress progress = new Progress();
    Manifest manifest;
    Syncer syncer = null;
    TrailingHashes.Session trailing = null;
    try {
      progress.at("creating", temp);
      fileOps.createDirectory(temp);
      progress.at("starting the sync thread for", temp);
      syncer = new Syncer();
      progress.at("writing", temp);
      trailing = TrailingHashes.open(temp, threadFactory, syncer::flushSoon, directIo);
      writer.write(temp);
      trailing.endWriting();
      progress.at("listing", temp);
      List<Path> files = new ArrayList<>();
      List<Path> dirs = new ArrayList<>();
      collect(temp, files, dirs);
      // The data files sync on a helper thread while this one hashes them and writes and syncs the
      // manifest and the directories: nothing counts until the rename, which waits for all of it.
      syncer.sync(files);
      Map<String, Path> byName = new LinkedHashMap<>();
      for (Path file : files) {
        byName.put(relativeName(temp, file), file);
      }
      progress.at("reading", temp);
      Map<String, CheckpointFile> described = FileHashes.describe(byName, threadFactory, trailing);
      trailing.close();
      manifest =
          new Manifest(
              Manifest.FORMAT_VERSION,
              request.epoch(),
              request.step(),
              clock.instant(),
              versions,
              request.metrics(),
              request.metadata(),
              described);
      Path manifestFile = temp.resolve(Manifest.FILE_NAME);
      progress.at("writing", manifestFile);
      fileOps.writeDurably(manifestFile, manifest.toJson());
      for (Path dir : dirs) {
        progress.at("syncing", dir);
        fileOps.fsyncDirectory(dir);
      }
      progress.at("syncing", temp);
      fileOps.fsyncDirectory(temp);
      syncer.await(progress);
      progress.at("renaming into place", target);
      fileOps.atomicMove(temp, target);
      progress.committed = true;
      progress.at("syncing", directory);
      fileOps.fsyncDirectory(directory);
    } catch (Exception e) { // a writer may throw any checked exception (e.g. from Kotlin)
      if (syncer != null) {
        syncer.cancel();
      }
      if (trailing != null) {
        trailing.close();
      }
      throw saveFailed(name, temp, progress, e);
    } catch (Error e) {
      if (syncer != null) {
        syncer.cancel();
      }
      if (trailing != null) {
        trailing.close();
      }
      if (!progress.committed) {
        deleteQuietly(temp, e);
      }
      throw e;
    }
    log.debug("Committed checkpoint {}", target);
    prune(name);
    return new Checkpoint(target, manifest);
  }

  /**
   * Returns the newest checkpoint whose manifest, file sizes and checksums ({@link
   * #verification()}) verify. Newer checkpoints that fail are skipped, logged at WARN and listed in
   * {@link #problems()}. Reads every byte of the checkpoints it checks.
   *
   * @return empty if there is no valid checkpoint; then {@link #problems()} says why each one
   *     failed
   */
  public synchronized Optional<Checkpoint> latestValid() {
    return latestValid(checkpoint -> checkpoint);
  }

  /**
   * Reads the newest valid checkpoint with {@code reader}, verifying its checksums at the same
   * time: the reader runs on this thread while other threads hash the files, so a load costs about
   * the longer of the two rather than their sum. If the checksums fail, the reader's result is
   * closed (when {@link AutoCloseable}), the checkpoint is skipped as in {@link #latestValid()},
   * and the next older one is read. A checkpoint under 64 MiB is verified first and read only if it
   * verifies: for so little data the threads would cost more than they save. One of up to 16 MiB is
   * read into memory once and verified there, and {@link TensorFile} calls of the reader on this
   * thread parse those bytes rather than the file: what was checked is what is loaded.
   *
   * @return what the reader returned for the newest valid checkpoint (empty if it returned null);
   *     empty if there is none, then {@link #problems()} says why each one failed
   * @throws CheckpointException if the reader fails on a checkpoint that verifies (an {@link
   *     IOException} is wrapped, other exceptions are thrown as they are)
   */
  public synchronized <T> Optional<T> latestValid(CheckpointReader<T> reader) {
    Objects.requireNonNull(reader, "reader == null");
    List<CheckpointName> names = committedNames();
    List<CheckpointProblem> found = new ArrayList<>();
    try {
      for (int i = names.size() - 1; i >= 0; i--) {
        Path dir = directory.resolve(names.get(i).toString());
        List<CheckpointProblem> dirProblems = new ArrayList<>();
        Unverified unverified = checkStructure(dir, dirProblems);
        if (unverified != null && dirProblems.isEmpty()) {
          Read<T> read = readWhileVerifying(unverified, reader, dirProblems);
          if (read.verified()) {
            return Optional.ofNullable(read.value());
          }
        }
        for (CheckpointProblem p : dirProblems) {
          log.warn("Skipping invalid checkpoint: {}", p.message());
        }
        found.addAll(dirProblems);
      }
      if (!names.isEmpty()) {
        log.warn(
            "No valid checkpoint in {}: all {} checkpoints failed verification",
            directory,
            names.size());
      }
      return Optional.empty();
    } finally {
      problems = List.copyOf(found);
    }
  }

  /** What a reader returned, and whether the checkpoint verified. */
  private record Read<T>(boolean verified, T value) {}

  /** Runs the reader while hashing; not verified (with problems added) if the checksums fail. */
  private <T> Read<T> readWhileVerifying(
      Unverified unverified, CheckpointReader<T> reader, List<CheckpointProblem> found) {
    long bytes = unverified.toHash().keySet().stream().mapToLong(CheckpointFile::size).sum();
    if (bytes < concurrentReadBytes && bytes <= Preloaded.MAX_BYTES) {
      // Small: read once into memory, verify there, and let the reader parse those same bytes.
      ByteBuffer memory = Preloaded.takeBuffer((int) bytes);
      try {
        Map<Path, ByteBuffer> contents = new HashMap<>();
        checkContents(unverified, found, memory, contents);
        if (!found.isEmpty()) {
          return new Read<>(false, null);
        }
        try (Preloaded.Scope scope = Preloaded.install(contents)) {
          return new Read<>(true, reader.read(unverified.checkpoint()));
        } catch (IOException e) {
          throw readFailed(unverified, e);
        }
      } finally {
        Preloaded.giveBack(memory);
      }
    }
    if (bytes < concurrentReadBytes) {
      // Small: hashing takes milliseconds, and reading beside it only fights it for the cores.
      checkContents(unverified, found);
      if (!found.isEmpty()) {
        return new Read<>(false, null);
      }
      try {
        return new Read<>(true, reader.read(unverified.checkpoint()));
      } catch (IOException e) {
        throw readFailed(unverified, e);
      }
    }
    List<CheckpointProblem> hashProblems = Collections.synchronizedList(new ArrayList<>());
    Throwable[] verifierFailure = new Throwable[1];
    boolean[] verified = new boolean[1];
    Thread verifier =
        threadFactory.newThread(
            () -> {
              try {
                checkContents(unverified, hashProblems);
                verified[0] = true;
              } catch (Throwable e) {
                verifierFailure[0] = e;
              }
            });
    verifier.start();
    T value = null;
    Exception readFailure = null;
    try {
      value = reader.read(unverified.checkpoint());
    } catch (IOException | RuntimeException e) {
      readFailure = e;
    } finally {
      Threads.joinUninterruptibly(verifier);
    }
    if (verifierFailure[0] != null || !verified[0]) {
      // The checksums were not checked: never hand out what was read.
      closeQuietly(value);
      if (verifierFailure[0] instanceof Error error) {
        throw error;
      }
      throw new CheckpointException(
          "Could not verify checkpoint "
              + unverified.checkpoint().directory()
              + ": "
              + (verifierFailure[0] != null
                  ? Failures.cause(verifierFailure[0])
                  : "the verifying thread did not run")
              + " — see the cause, and check the store's threadFactory",
          verifierFailure[0]);
    }
    if (!hashProblems.isEmpty()) {
      found.addAll(hashProblems);
      closeQuietly(value);
      if (readFailure != null) {
        log.debug(
            "Reading the damaged checkpoint {} failed too", unverified.checkpoint(), readFailure);
      }
      return new Read<>(false, null);
    }
    if (readFailure instanceof RuntimeException e) {
      throw e;
    }
    if (readFailure != null) {
      throw readFailed(unverified, (IOException) readFailure);
    }
    return new Read<>(true, value);
  }

  private static CheckpointException readFailed(Unverified unverified, IOException e) {
    return new CheckpointException(
        "Could not read checkpoint "
            + unverified.checkpoint().directory()
            + ": "
            + Failures.cause(e)
            + " — "
            + Failures.hint(e),
        e);
  }

  private static void closeQuietly(Object value) {
    if (value instanceof AutoCloseable closeable) {
      try {
        closeable.close();
      } catch (Exception e) {
        log.debug("Closing what was read from a damaged checkpoint failed", e);
      }
    }
  }

  /**
   * Lists committed checkpoints, oldest first, from their manifests without verifying checksums. A
   * directory whose manifest cannot be read is logged at WARN and left out.
   */
  public List<Checkpoint> list() {
    List<Checkpoint> result = new ArrayList<>();
    for (CheckpointName name : committedNames()) {
      Path dir = directory.resolve(name.toString());
      List<CheckpointProblem> manifestProblems = new ArrayList<>();
      Manifest manifest = readManifest(dir, manifestProblems);
      if (manifest == null) {
        log.warn("Not listing checkpoint: {}", manifestProblems.get(0).message());
      } else {
        result.add(new Checkpoint(dir, manifest));
      }
    }
    return result;
  }

  /**
   * Verifies one checkpoint: its manifest and every file's size and checksums ({@link
   * #verification()}).
   *
   * @param checkpointDir the checkpoint directory; a relative path is resolved against {@link
   *     #directory()}
   * @throws CheckpointException naming each bad file and what failed; also listed in {@link
   *     #problems()}
   */
  public synchronized Checkpoint verify(Path checkpointDir) {
    Path dir = directory.resolve(checkpointDir);
    List<CheckpointProblem> found = new ArrayList<>();
    Checkpoint checkpoint = check(dir, found);
    problems = List.copyOf(found);
    if (!found.isEmpty()) {
      String details =
          found.stream().map(CheckpointProblem::message).collect(Collectors.joining("; "));
      throw new CheckpointException(
          "Checkpoint "
              + dir
              + " is invalid: "
              + details
              + " — load another checkpoint (latestValid() picks the newest valid one) or delete"
              + " this one",
          null,
          found);
    }
    return checkpoint;
  }

  /**
   * What the last {@link #latestValid()} or {@link #verify(Path)} found wrong; empty if nothing.
   */
  public List<CheckpointProblem> problems() {
    return problems;
  }

  // ---------------------------------------------------------------------------------------------------- saving

  /** Where a save is, for error messages. */
  private static final class Progress {
    volatile String doing;
    volatile Path path;
    boolean committed;

    void at(String doing, Path path) {
      this.doing = doing;
      this.path = path;
    }
  }

  /** {@link Writeback#suits}, false without JNA's classes. */
  private static boolean writebackSuits(Path directory) {
    try {
      return Writeback.suits(directory);
    } catch (LinkageError e) {
      return false;
    }
  }

  private CheckpointName freeName(CheckpointName name) {
    CheckpointName candidate = name;
    while (Files.exists(directory.resolve(candidate.toString()), LinkOption.NOFOLLOW_LINKS)) {
      candidate = candidate.withRevision(candidate.revision() + 1);
    }
    return candidate;
  }

  /**
   * Forces files to the device, one after another, on a thread of the store's factory. The thread
   * starts with the save, while the cores are still free, and first removes what interrupted saves
   * and prunes left in the store's directory. Files written with {@code TensorFile} through the
   * page cache are flushed as they grow, and once finished ({@link #flushSoon}), so that the disk
   * works while the writer and the hashing threads do, instead of all at the end: on Linux the
   * writer's thread starts each flush itself without waiting ({@code sync_file_range}); elsewhere
   * this thread flushes them ({@code fdatasync}) until it gets the list of files. (Files written
   * with direct I/O reach the disk as they are written.)
   */
  private final class Syncer {
    private final Thread thread;
    private List<Path> files; // guarded by this; null until handed over
    private final Set<Path> grown = new LinkedHashSet<>(); // guarded by this
    private volatile boolean cancelled;
    private volatile boolean interrupted; // by someone else: the files are not all synced
    private volatile boolean finished;
    private volatile Throwable failure;
    private volatile Path failedFile;

    Syncer() {
      thread =
          threadFactory.newThread(
              () -> {
                // Off the writer's path: what interrupted saves and prunes left behind. Best
                // effort:
                // a failure here must not stop the syncing.
                try {
                  cleanTemporaryDirectories();
                } catch (RuntimeException e) {
                  log.warn("Could not clean leftovers in {}: {}", directory, Failures.cause(e));
                }
                List<Path> toSync = null;
                while (toSync == null) {
                  Path flush;
                  synchronized (this) {
                    while (files == null && !cancelled && grown.isEmpty()) {
                      try {
                        wait();
                      } catch (InterruptedException e) {
                        interrupted = true;
                        cancelled = true; // stop: the save fails rather than commit unsynced files
                      }
                    }
                    if (cancelled) {
                      return;
                    }
                    toSync = files;
                    Iterator<Path> next = grown.iterator();
                    flush = toSync == null ? next.next() : null;
                    if (flush != null) {
                      next.remove();
                    }
                  }
                  if (flush != null) {
                    try {
                      fileOps.flushEarly(flush);
                    } catch (ClosedByInterruptException e) {
                      interrupted = true;
                      return;
                    } catch (NoSuchFileException e) {
                      // The writer removed or renamed it meanwhile: nothing to flush by this name.
                      log.debug("{} is gone before its early flush", flush);
                    } catch (IOException | RuntimeException e) {
                      // This descriptor has seen the error now, and Linux reports a writeback
                      // error once per open file: the fsync at the end, on another, might not.
                      failure = e;
                      failedFile = flush;
                      return;
                    }
                  }
                }
                for (Path file : toSync) {
                  if (cancelled) {
                    return;
                  }
                  try {
                    fileOps.fsyncFile(file);
                  } catch (ClosedByInterruptException e) {
                    interrupted = true;
                    return;
                  } catch (Throwable e) {
                    failure = e;
                    failedFile = file;
                    return;
                  }
                }
                finished = true;
              });
      thread.start();
    }

    /**
     * Asks for {@code file}, still being written, to be flushed to the device soon: at once where
     * the system can start that without waiting ({@link FileOps#startWriteback}), else by this
     * thread.
     */
    void flushSoon(Path file) {
      if (writeback && fileOps.startWriteback(file)) {
        return;
      }
      synchronized (this) {
        if (files == null && grown.add(file)) {
          notifyAll();
        }
      }
    }

    /** Hands over the files to sync. */
    synchronized void sync(List<Path> toSync) {
      files = List.copyOf(toSync);
      notifyAll();
    }

    /** Waits for every sync; throws the first failure. */
    void await(Progress progress) throws IOException {
      Threads.joinUninterruptibly(thread);
      if (failure != null) {
        progress.at("syncing", failedFile);
        if (failure instanceof IOException io) {
          throw io;
        }
        if (failure instanceof Error error) {
          throw error;
        }
        throw new IOException(failure);
      }
      if (!finished) {
        // Never commit files that may not be on the device.
        if (interrupted) {
          throw new IOException(
              "the store's sync thread was interrupted before it synced every file; something"
                  + " outside the store interrupts the threads of its threadFactory");
        }
        throw new IllegalStateException("the sync thread stopped before syncing every file");
      }
    }

    /** Stops after the sync in progress and waits for it, so the files can be deleted. */
    void cancel() {
      synchronized (this) {
        cancelled = true;
        notifyAll();
      }
      Threads.joinUninterruptibly(thread);
    }
  }

  private void collect(Path temp, List<Path> files, List<Path> dirs) throws IOException {
    Map<Path, BasicFileAttributes> tree = new TreeMap<>();
    listTree(temp, tree);
    for (Map.Entry<Path, BasicFileAttributes> entry : tree.entrySet()) {
      Path p = entry.getKey();
      BasicFileAttributes attrs = entry.getValue();
      if (attrs.isDirectory()) {
        dirs.add(p);
      } else if (attrs.isRegularFile()) {
        if (p.getParent().equals(temp) && p.getFileName().toString().equals(Manifest.FILE_NAME)) {
          throw new CheckpointException(
              "The checkpoint writer created "
                  + p
                  + ", but the name "
                  + Manifest.FILE_NAME
                  + " is reserved for the store — give that file another name");
        }
        files.add(p);
      } else {
        throw new CheckpointException(
            "The checkpoint writer created "
                + p
                + ", which is not a regular file or directory — write regular files only");
      }
    }
    // Deepest directories first, so each parent is synced after its children.
    Collections.reverse(dirs);
  }

  /** Adds everything under {@code dir}, without following links, with its attributes. */
  private static void listTree(Path dir, Map<Path, BasicFileAttributes> into) throws IOException {
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
      for (Path p : entries) {
        BasicFileAttributes attrs =
            Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        into.put(p, attrs);
        if (attrs.isDirectory()) {
          listTree(p, into);
        }
      }
    }
  }

  private static String relativeName(Path root, Path file) {
    List<String> parts = new ArrayList<>();
    for (Path part : root.relativize(file)) {
      parts.add(part.toString());
    }
    return String.join("/", parts);
  }

  private CheckpointException saveFailed(
      CheckpointName name, Path temp, Progress progress, Exception e) {
    if (progress.committed) {
      return new CheckpointException(
          "Checkpoint "
              + name
              + " was renamed into place in "
              + directory
              + " but syncing the directory failed: "
              + Failures.cause(e)
              + " — it may not survive a power"
              + " loss; "
              + Failures.hint(e),
          e);
    }
    // The system's message may be in the user's language: a file system with (almost) nothing
    // left when the write failed counts as full too.
    boolean diskFull =
        Failures.isDiskFull(e) || (e instanceof IOException && isNearlyFull(usableSpace()));
    long written = diskFull ? bytesUnder(temp) : -1;
    deleteQuietly(temp, e);
    if (e instanceof CheckpointException ce) {
      return ce;
    }
    String file = e instanceof IOException io ? Failures.fileOf(io) : null;
    String where = file != null ? file : String.valueOf(progress.path);
    String what =
        e instanceof IOException
            ? Failures.cause(e)
                + " while "
                + progress.doing
                + " "
                + where
                + spaceNote(written, Failures.isQuotaExceeded(e))
                + " — "
                + (diskFull ? Failures.DISK_FULL_HINT : Failures.hint(e))
            : "writing".equals(progress.doing) && temp.equals(progress.path)
                ? "the checkpoint writer threw "
                    + e
                    + " while writing into "
                    + where
                    + " — fix the writer; see the cause"
                : Failures.cause(e) + " while " + progress.doing + " " + where + " — see the cause";
    return new CheckpointException(
        "Could not save checkpoint " + name + " in " + directory + ": " + what, e);
  }

  /** Free space below which a failed write counts as a full disk, whatever its message says. */
  private static final long NEARLY_FULL_BYTES = 64 << 10;

  private static boolean isNearlyFull(long usable) {
    return usable >= 0 && usable < NEARLY_FULL_BYTES;
  }

  /** What the store's file system has free for this process, or -1 if unknown. */
  private long usableSpace() {
    try {
      return Files.getFileStore(directory).getUsableSpace();
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** The bytes of the files under {@code dir} (0 if it does not exist), or -1 if unknown. */
  private static long bytesUnder(Path dir) {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return 0; // the disk was full before the save could create its directory
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
          .mapToLong(
              p -> {
                try {
                  return Files.size(p);
                } catch (IOException e) {
                  return 0;
                }
              })
          .sum();
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /**
   * For a full disk: how much the failed save had written, and how much the store's file system
   * reports free once the save's directory is deleted, so the user knows how much to free; empty if
   * not known. A quota is not the file system's free space, so then only the first.
   */
  private String spaceNote(long written, boolean quota) {
    if (written < 0) {
      return "";
    }
    String note = " (the save had written " + size(written);
    if (quota) {
      return note + " when the quota ran out)";
    }
    long free = usableSpace();
    return free < 0
        ? note + " when the disk filled)"
        : note + " when the disk filled; the file system reports " + size(free) + " free now)";
  }

  private static String size(long bytes) {
    if (bytes < (1 << 20)) {
      return String.format(java.util.Locale.ROOT, "%.0f KiB", Math.ceil(bytes / 1024.0));
    }
    if (bytes < (1L << 30)) {
      return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
    }
    return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
  }

  private void deleteQuietly(Path temp, Throwable failure) {
    try {
      fileOps.deleteRecursively(temp);
    } catch (IOException | RuntimeException e) {
      failure.addSuppressed(e);
      log.warn(
          "Could not delete temporary checkpoint directory {}; a save or open of this directory"
              + " removes it once this process has ended: {}",
          temp,
          Failures.cause(e));
    }
  }

  private void cleanTemporaryDirectories() {
    try (DirectoryStream<Path> entries =
        Files.newDirectoryStream(directory, CheckpointName.TEMP_PREFIX + "*")) {
      for (Path entry : entries) {
        if (mayBeInUse(entry) || deleting.contains(entry)) {
          continue;
        }
        try {
          fileOps.deleteRecursively(entry);
          log.info("Deleted {} left by an interrupted save or prune", entry);
        } catch (IOException | RuntimeException e) {
          log.warn("Could not delete leftover {}: {}", entry, Failures.cause(e));
        }
      }
    } catch (IOException | java.nio.file.DirectoryIteratorException e) {
      log.warn("Could not list {} to clean leftovers: {}", directory, Failures.cause(e));
    }
  }

  /**
   * {@code p<pid>-<random>}: the pid lets other processes see that a temporary folder is still in
   * use.
   */
  private static String randomSuffix() {
    // Unique, not secret: nothing is gained by guessing it.
    return "p" + PID + "-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
  }

  private static final java.util.regex.Pattern OWNER =
      java.util.regex.Pattern.compile("-p(\\d+)-[0-9a-f]{8}$");

  /**
   * Whether a temporary folder may belong to a save still running: one by this process (its own
   * failures clean up after themselves) or by another live process on this machine, e.g. a notebook
   * cell opening the store while training writes to it.
   */
  private static boolean mayBeInUse(Path temp) {
    if (!temp.getFileName().toString().startsWith(CheckpointName.TEMP_PREFIX + "save-")) {
      return false; // a half-deleted pruned checkpoint: finishing its deletion is always safe
    }
    java.util.regex.Matcher m = OWNER.matcher(temp.getFileName().toString());
    if (!m.find()) {
      return false;
    }
    long pid;
    try {
      pid = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      return false; // no process has that id
    }
    // This process's own saves, without asking the system (ProcessHandle needs /proc on Linux).
    return pid == PID || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  // --------------------------------------------------------------------------------------------------- pruning

  private void prune(CheckpointName justSaved) {
    List<CheckpointName> names = committedNames();
    List<RetentionPlan.Entry> entries = new ArrayList<>();
    boolean needMetrics = retention.keepBest() > 0;
    for (CheckpointName name : names) {
      Map<String, Double> metrics = Map.of();
      if (needMetrics) {
        Manifest manifest = readManifest(directory.resolve(name.toString()), new ArrayList<>());
        metrics = manifest == null ? Map.of() : manifest.metrics();
      }
      entries.add(new RetentionPlan.Entry(name, metrics));
    }
    Set<CheckpointName> keep = RetentionPlan.keep(entries, retention, justSaved);
    // No directory fsync afterwards: if a prune is lost in a power failure the old checkpoint (or
    // its .tmp-prune directory, cleaned on open) simply reappears.
    List<Path> trashed = new ArrayList<>();
    for (CheckpointName name : names) {
      if (keep.contains(name)) {
        continue;
      }
      Path victim = directory.resolve(name.toString());
      // Rename first so a crash mid-delete leaves a temporary directory, never a half-deleted
      // checkpoint.
      Path trash =
          directory.resolve(CheckpointName.TEMP_PREFIX + "prune-" + name + "-" + randomSuffix());
      try {
        fileOps.atomicMove(victim, trash);
        trashed.add(trash);
        log.debug("Pruned checkpoint {}", victim);
      } catch (IOException | RuntimeException e) {
        log.warn(
            "Could not prune checkpoint {} ({}); it is retried after the next save",
            victim,
            Failures.cause(e));
      }
    }
    if (trashed.isEmpty()) {
      return;
    }
    // Deleting gigabytes takes a while (and longer with online discard); the save need not wait.
    // Marked as the deleter's once it starts on them: a task it never runs leaves them to the next
    // save's cleanup instead of to nobody.
    Runnable delete =
        () -> {
          deleting.addAll(trashed);
          trashed.forEach(this::deleteTrash);
        };
    try {
      deleter.execute(delete);
    } catch (RuntimeException e) {
      delete.run();
    }
  }

  private void deleteTrash(Path trash) {
    try {
      fileOps.deleteRecursively(trash);
    } catch (IOException | RuntimeException e) {
      log.warn(
          "Could not delete pruned checkpoint {} ({}); it is deleted on the next save",
          trash,
          Failures.cause(e));
    } finally {
      deleting.remove(trash);
    }
  }

  // ------------------------------------------------------------------------------------------------- verifying

  private List<CheckpointName> committedNames() {
    List<CheckpointName> names = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
      for (Path entry : entries) {
        CheckpointName.parse(entry.getFileName().toString())
            .filter(n -> Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS))
            .ifPresent(names::add);
      }
    } catch (NoSuchFileException e) {
      return names;
    } catch (IOException e) {
      throw new CheckpointException(
          "Could not list checkpoints in "
              + directory
              + ": "
              + Failures.cause(e)
              + " — "
              + Failures.hint(e),
          e);
    }
    Collections.sort(names);
    return names;
  }

  /** Reads the manifest; on failure adds a problem and returns null. */
  private static Manifest readManifest(Path dir, List<CheckpointProblem> found) {
    Path file = dir.resolve(Manifest.FILE_NAME);
    try {
      if (!Files.isRegularFile(file)) {
        found.add(
            new CheckpointProblem(
                dir,
                Manifest.FILE_NAME,
                CheckpointProblem.Kind.MISSING_MANIFEST,
                "manifest is missing, so the checkpoint cannot be verified (damaged after commit,"
                    + " or not written by Kiln)"));
        return null;
      }
      long size = Files.size(file);
      if (size > Manifest.MAX_BYTES) {
        found.add(
            new CheckpointProblem(
                dir,
                Manifest.FILE_NAME,
                CheckpointProblem.Kind.UNREADABLE_MANIFEST,
                "manifest is " + size + " bytes, larger than any Kiln writes"));
        return null;
      }
      return Manifest.parse(Files.readAllBytes(file));
    } catch (Manifest.InvalidManifestException e) {
      found.add(
          new CheckpointProblem(
              dir,
              Manifest.FILE_NAME,
              e.unsupportedVersion()
                  ? CheckpointProblem.Kind.UNSUPPORTED_FORMAT
                  : CheckpointProblem.Kind.UNREADABLE_MANIFEST,
              "manifest is invalid: " + e.getMessage()));
      return null;
    } catch (IOException e) {
      found.add(
          new CheckpointProblem(
              dir,
              Manifest.FILE_NAME,
              CheckpointProblem.Kind.IO_ERROR,
              "manifest could not be read: " + Failures.cause(e)));
      return null;
    }
  }

  /**
   * Verifies {@code dir}, adding every problem found; returns the checkpoint if its manifest was
   * readable.
   */
  private Checkpoint check(Path dir, List<CheckpointProblem> found) {
    Unverified unverified = checkStructure(dir, found);
    if (unverified == null) {
      return null;
    }
    checkContents(unverified, found);
    return unverified.checkpoint();
  }

  /** A checkpoint whose manifest and file sizes checked out, and the files left to hash. */
  private record Unverified(
      Checkpoint checkpoint, Manifest manifest, Map<CheckpointFile, Path> toHash) {}

  /**
   * Checks the manifest, that every file exists and its size; returns null if the manifest is
   * unreadable.
   */
  private Unverified checkStructure(Path dir, List<CheckpointProblem> found) {
    Manifest manifest = readManifest(dir, found);
    if (manifest == null) {
      return null;
    }
    Checkpoint checkpoint = new Checkpoint(dir, manifest);
    Map<CheckpointFile, Path> toHash = new LinkedHashMap<>();
    for (CheckpointFile expected : manifest.files().values()) {
      Path file = checkpoint.file(expected.name());
      try {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
          found.add(
              new CheckpointProblem(
                  dir,
                  expected.name(),
                  CheckpointProblem.Kind.MISSING_FILE,
                  "file is missing (manifest lists " + expected.size() + " bytes)"));
          continue;
        }
        long size = Files.size(file);
        if (size != expected.size()) {
          found.add(
              new CheckpointProblem(
                  dir,
                  expected.name(),
                  CheckpointProblem.Kind.SIZE_MISMATCH,
                  "file is "
                      + size
                      + " bytes but the manifest says "
                      + expected.size()
                      + (size < expected.size() ? " (truncated)" : "")));
          continue;
        }
        toHash.put(expected, file);
      } catch (IOException e) {
        found.add(ioProblem(dir, expected.name(), e));
      }
    }
    return new Unverified(checkpoint, manifest, toHash);
  }

  /** Hashes the files (or their parts) on all cores and adds a problem for each mismatch. */
  private void checkContents(Unverified unverified, List<CheckpointProblem> found) {
    Map<String, IOException> failures = new LinkedHashMap<>();
    List<FileHashes.Mismatch> mismatches =
        FileHashes.verify(unverified.toHash(), algorithm(), threadFactory, failures);
    addProblems(unverified, mismatches, failures, found);
  }

  /**
   * Reads the files into {@code memory}, checks the copy and adds a problem for each mismatch;
   * {@code contents} receives each file's bytes.
   */
  private void checkContents(
      Unverified unverified,
      List<CheckpointProblem> found,
      ByteBuffer memory,
      Map<Path, ByteBuffer> contents) {
    Map<String, IOException> failures = new LinkedHashMap<>();
    List<FileHashes.Mismatch> mismatches =
        FileHashes.readAndVerify(
            unverified.toHash(), algorithm(), threadFactory, memory, contents, failures);
    addProblems(unverified, mismatches, failures, found);
  }

  private FileHashes.Algorithm algorithm() {
    return verification == Verification.SHA256
        ? FileHashes.Algorithm.SHA256
        : FileHashes.Algorithm.CRC32C;
  }

  private static void addProblems(
      Unverified unverified,
      List<FileHashes.Mismatch> mismatches,
      Map<String, IOException> failures,
      List<CheckpointProblem> found) {
    Path dir = unverified.checkpoint().directory();
    Manifest manifest = unverified.manifest();
    failures.forEach((name, e) -> found.add(ioProblem(dir, name, e)));
    for (FileHashes.Mismatch m : mismatches) {
      String algorithm = m.algorithm().label();
      String what =
          m.part() < 0
              ? algorithm + " is "
              : algorithm
                  + " of bytes "
                  + m.offset()
                  + "-"
                  + (m.offset() + m.length() - 1)
                  + " (part "
                  + (m.part() + 1)
                  + ") is ";
      String expected =
          m.part() < 0
              ? manifest.files().get(m.name()).sha256()
              : manifest.files().get(m.name()).partCrc32c().get(m.part());
      found.add(
          new CheckpointProblem(
              dir,
              m.name(),
              CheckpointProblem.Kind.CHECKSUM_MISMATCH,
              what
                  + m.actual()
                  + " but the manifest says "
                  + expected
                  + " (contents changed on disk)"));
    }
  }

  private static CheckpointProblem ioProblem(Path dir, String name, IOException e) {
    return new CheckpointProblem(
        dir, name, CheckpointProblem.Kind.IO_ERROR, "file could not be read: " + Failures.cause(e));
  }

  // --------------------------------------------------------------------------------------------------- builder

  /** Builds a {@link CheckpointStore}. */
  public static final class Builder {
    private final Path directory;
    private Retention retention = Retention.defaults();
    private Clock clock = Clock.systemUTC();
    private final Map<String, String> versions = new LinkedHashMap<>();
    private FileOps fileOps = FileOps.system();
    private ThreadFactory threadFactory = DEFAULT_THREADS;
    private Executor deleter;
    private long concurrentReadBytes = 64L << 20;
    private Verification verification = Verification.CRC32C;

    private Builder(Path directory) {
      this.directory =
          Objects.requireNonNull(directory, "directory == null").toAbsolutePath().normalize();
      versions.put("java", System.getProperty("java.version"));
      String djl = NDList.class.getPackage().getSpecificationVersion();
      if (djl != null) {
        versions.put("djl", djl);
      }
    }

    /** Which checkpoints to keep after each save; default {@link Retention#defaults()}. */
    public Builder retention(Retention retention) {
      this.retention = Objects.requireNonNull(retention, "retention == null");
      return this;
    }

    /** Source of {@link Checkpoint#createdAt()}; default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock == null");
      return this;
    }

    /**
     * Adds versions to record in every manifest, e.g. {@code kiln}, {@code djl}, {@code engine};
     * they replace the defaults ({@code java}, {@code djl}) of the same name.
     */
    public Builder versions(Map<String, String> versions) {
      versions.forEach(
          (k, v) -> {
            if (k == null || v == null) {
              throw new IllegalArgumentException(
                  "versions has a null name or value: " + k + "=" + v);
            }
          });
      this.versions.putAll(versions);
      return this;
    }

    /**
     * Makes the threads that sync files, compute checksums (up to one per core, plus up to {@value
     * dev.kiln.checkpoint.internal.TrailingHashes#MAX_ACTIVE} following {@link TensorFile} writes
     * during a save, each with a second thread writing its file with direct I/O on a local Linux
     * file system), read small checkpoints and delete pruned checkpoints; each lives for one save
     * or load at most. Default: daemon threads named {@code kiln-checkpoint-N}.
     */
    public Builder threadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory == null");
      return this;
    }

    /**
     * How loading ({@link #latestValid()}, {@link #verify(Path)}) checks every byte; default {@link
     * Verification#CRC32C}. Manifests always record both the SHA-256 and the part CRC32Cs, so any
     * store can load any checkpoint either way.
     */
    public Builder verification(Verification verification) {
      this.verification = Objects.requireNonNull(verification, "verification == null");
      return this;
    }

    // VisibleForTesting: runs the deletion of pruned checkpoints; default a new thread per prune
    Builder deleter(Executor deleter) {
      this.deleter = Objects.requireNonNull(deleter, "deleter == null");
      return this;
    }

    // VisibleForTesting: checkpoints this large and up are read while they are verified
    Builder concurrentReadBytes(long bytes) {
      this.concurrentReadBytes = bytes;
      return this;
    }

    // VisibleForTesting
    Builder fileOps(FileOps fileOps) {
      this.fileOps = Objects.requireNonNull(fileOps, "fileOps == null");
      return this;
    }

    /**
     * Creates the directory if needed, deletes temporary directories left by interrupted saves, and
     * returns the store.
     *
     * @throws CheckpointException if the directory cannot be created
     */
    public CheckpointStore build() {
      try {
        Files.createDirectories(directory);
      } catch (IOException e) {
        throw new CheckpointException(
            "Could not create checkpoint directory "
                + directory
                + ": "
                + Failures.cause(e)
                + " — "
                + Failures.hint(e),
            e);
      }
      CheckpointStore store = new CheckpointStore(this);
      store.cleanTemporaryDirectories();
      return store;
    }
  }
}

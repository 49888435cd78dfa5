package dev.kiln.checkpoint;

import dev.kiln.checkpoint.internal.FileOps;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Records every operation as {@code "<op> <file name>"}, then either performs it on the real file
 * system or, at the chosen call, throws instead.
 */
class RecordingFileOps implements FileOps {

  private final FileOps delegate = FileOps.system();
  private final List<String> calls = new ArrayList<>();
  private int failAtCall = -1;
  private String failOnCall;
  private IOException failure;
  private volatile boolean writeback;
  private final Set<Thread> writebackThreads = new HashSet<>(); // guarded by this

  /**
   * Makes call number {@code index} (0-based, counting every operation) throw {@code failure} once.
   */
  RecordingFileOps failAt(int index, IOException failure) {
    this.failAtCall = index;
    this.failure = failure;
    return this;
  }

  /**
   * Makes the first call recorded as {@code call} (e.g. {@code "write manifest.json"}) throw {@code
   * failure} once; unlike {@link #failAt}, independent of how the store's threads interleave.
   */
  RecordingFileOps failOn(String call, IOException failure) {
    this.failOnCall = call;
    this.failure = failure;
    return this;
  }

  /**
   * Lets the store start writeback through the real system ({@code "writeback <file>"}, true where
   * the system can); without this it cannot, and flushes on its sync thread ({@code "flush
   * <file>"}).
   */
  RecordingFileOps withWriteback() {
    this.writeback = true;
    return this;
  }

  /** The threads that asked for writeback. */
  synchronized Set<Thread> writebackThreads() {
    return Set.copyOf(writebackThreads);
  }

  synchronized List<String> calls() {
    return List.copyOf(calls);
  }

  synchronized void clear() {
    calls.clear();
  }

  private synchronized void record(String op, Path path) throws IOException {
    int index = calls.size();
    calls.add(op + " " + path.getFileName());
    if (index == failAtCall || calls.get(index).equals(failOnCall)) {
      failOnCall = null;
      throw failure;
    }
  }

  @Override
  public void createDirectory(Path dir) throws IOException {
    record("mkdir", dir);
    delegate.createDirectory(dir);
  }

  @Override
  public OutputStream newOutputStream(Path file) throws IOException {
    record("open", file);
    return delegate.newOutputStream(file);
  }

  @Override
  public void writeDurably(Path file, byte[] bytes) throws IOException {
    record("write", file);
    delegate.writeDurably(file, bytes);
  }

  @Override
  public void fsyncFile(Path file) throws IOException {
    record("fsync", file);
    delegate.fsyncFile(file);
  }

  @Override
  public void flushEarly(Path file) throws IOException {
    record("flush", file);
    delegate.flushEarly(file);
  }

  @Override
  public boolean startWriteback(Path file) {
    if (!writeback) {
      return false;
    }
    synchronized (this) {
      writebackThreads.add(Thread.currentThread());
    }
    try {
      record("writeback", file);
    } catch (IOException e) {
      return false; // as a refused system call: the store flushes on its sync thread instead
    }
    return delegate.startWriteback(file);
  }

  @Override
  public void fsyncDirectory(Path dir) throws IOException {
    record("fsyncdir", dir);
    delegate.fsyncDirectory(dir);
  }

  @Override
  public void atomicMove(Path source, Path target) throws IOException {
    record("move " + source.getFileName() + " ->", target);
    delegate.atomicMove(source, target);
  }

  @Override
  public void deleteRecursively(Path path) throws IOException {
    record("delete", path);
    delegate.deleteRecursively(path);
  }
}

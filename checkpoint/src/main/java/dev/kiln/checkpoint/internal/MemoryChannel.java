package dev.kiln.checkpoint.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;

/**
 * A read-only {@link FileChannel} over bytes in memory: a checkpoint file as it was read and
 * verified (see {@link Preloaded}), so that parsing it reads exactly the verified bytes.
 */
public final class MemoryChannel extends FileChannel {

  private final ByteBuffer contents;
  private long position;

  /** A channel over {@code contents} from its position to its limit (the buffer is not copied). */
  public MemoryChannel(ByteBuffer contents) {
    this.contents = Objects.requireNonNull(contents, "contents == null").slice();
  }

  /** A view of {@code length} bytes from {@code offset}, without a copy. */
  public ByteBuffer slice(long offset, int length) {
    if (offset < 0 || length < 0 || offset + length > contents.capacity()) {
      throw new IndexOutOfBoundsException(
          "bytes " + offset + "+" + length + " of " + contents.capacity());
    }
    return contents.duplicate().position((int) offset).limit((int) offset + length).slice();
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    int n = read(dst, position);
    if (n > 0) {
      position += n;
    }
    return n;
  }

  @Override
  public int read(ByteBuffer dst, long at) throws IOException {
    ensureOpen();
    if (at < 0) {
      throw new IllegalArgumentException("position < 0: " + at);
    }
    if (at >= contents.capacity()) {
      return -1;
    }
    int n = (int) Math.min(dst.remaining(), contents.capacity() - at);
    dst.put(slice(at, n));
    return n;
  }

  @Override
  public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
    long total = 0;
    for (int i = offset; i < offset + length; i++) {
      int n = read(dsts[i]);
      if (n < 0) {
        return total == 0 ? -1 : total;
      }
      total += n;
    }
    return total;
  }

  @Override
  public long position() throws IOException {
    ensureOpen();
    return position;
  }

  @Override
  public FileChannel position(long newPosition) throws IOException {
    ensureOpen();
    if (newPosition < 0) {
      throw new IllegalArgumentException("position < 0: " + newPosition);
    }
    position = newPosition;
    return this;
  }

  @Override
  public long size() throws IOException {
    ensureOpen();
    return contents.capacity();
  }

  @Override
  public int write(ByteBuffer src) {
    throw new NonWritableChannelException();
  }

  @Override
  public long write(ByteBuffer[] srcs, int offset, int length) {
    throw new NonWritableChannelException();
  }

  @Override
  public int write(ByteBuffer src, long at) {
    throw new NonWritableChannelException();
  }

  @Override
  public FileChannel truncate(long size) {
    throw new NonWritableChannelException();
  }

  @Override
  public void force(boolean metaData) {
    // nothing to write
  }

  @Override
  public long transferTo(long at, long count, WritableByteChannel target) throws IOException {
    ensureOpen();
    if (at >= contents.capacity()) {
      return 0;
    }
    int n = (int) Math.min(count, contents.capacity() - at);
    return target.write(slice(at, n));
  }

  @Override
  public long transferFrom(ReadableByteChannel src, long at, long count) {
    throw new NonWritableChannelException();
  }

  @Override
  public MappedByteBuffer map(MapMode mode, long at, long size) {
    throw new UnsupportedOperationException("a checkpoint file read into memory cannot be mapped");
  }

  @Override
  public FileLock lock(long at, long size, boolean shared) {
    throw new UnsupportedOperationException("a checkpoint file read into memory cannot be locked");
  }

  @Override
  public FileLock tryLock(long at, long size, boolean shared) {
    throw new UnsupportedOperationException("a checkpoint file read into memory cannot be locked");
  }

  @Override
  protected void implCloseChannel() {
    // the memory belongs to the store's read, which releases it
  }

  private void ensureOpen() throws IOException {
    if (!isOpen()) {
      throw new java.nio.channels.ClosedChannelException();
    }
  }
}

package dev.kiln.data.internal;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;

/**
 * Sequential access to the members of one archive. Every {@link IOException} it throws means the
 * archive itself is unreadable, truncated or corrupt; its message names the member when there is
 * one.
 */
public interface ArchiveReader extends Closeable {

  /** Advances to the next member, skipping what is left of the current one; null at the end. */
  ArchiveEntry next() throws IOException;

  /** The current member's content; reading past its end returns -1. Must not be closed. */
  InputStream content();

  /**
   * Called after {@link #next()} returned null: checks what follows the last member (trailers, the
   * zip central directory) and reads the rest of the file so its digest covers every byte.
   */
  void finish() throws IOException;
}

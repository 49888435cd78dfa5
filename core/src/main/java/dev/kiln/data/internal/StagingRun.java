package dev.kiln.data.internal;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One call of {@code DatasetStaging.stage()}: reuse the target, or extract and commit it. */
public final class StagingRun {
  private static final Logger LOG = LoggerFactory.getLogger(StagingRun.class);
  private static final int BUFFER = 1 << 16;
  private static final int FSYNC_THREADS = 16;

  /** What {@link #run()} produced. */
  public record Outcome(Path directory, long files, long bytes, boolean reused) {}

  private final Path archive;
  private final Path target;
  private final String sha256;
  private final PrintStream progressOut;
  private final boolean terminal;
  private final Clock clock;
  private final StagingFileOps ops;
  private final Path parent;
  private final String name;

  /**
   * @param sha256 expected lower-case hex digest of the archive, or null
   * @param progressOut where progress goes, or null for none
   * @param terminal whether {@code progressOut} is a terminal (draw a bar) or not (print lines)
   */
  public StagingRun(
      Path archive,
      Path target,
      String sha256,
      PrintStream progressOut,
      boolean terminal,
      Clock clock,
      StagingFileOps ops) {
    this.archive = archive.toAbsolutePath().normalize();
    this.target = target.toAbsolutePath().normalize();
    this.sha256 = sha256;
    this.progressOut = progressOut;
    this.terminal = terminal;
    this.clock = clock;
    this.ops = ops;
    this.parent = this.target.getParent();
    this.name = this.target.getFileName().toString();
  }

  public Outcome run() throws IOException {
    BasicFileAttributes attrs = archiveAttributes();
    if (archive.startsWith(target)) {
      throw new IOException(
          "archive "
              + archive
              + " lies inside the target directory "
              + target
              + ", which staging may replace — choose a target directory elsewhere");
    }
    Files.createDirectories(parent);
    try (StagingLock lock = StagingLock.acquire(parent.resolve("." + name + ".lock"))) {
      cleanLeftovers();
      boolean exists = Files.exists(target, LinkOption.NOFOLLOW_LINKS);
      StagingMarker previous = null;
      if (exists) {
        if (Files.isSymbolicLink(target)) {
          throw new IOException(
              "target "
                  + target
                  + " is a symbolic link — give the directory it points to, or a new path");
        }
        if (!Files.isDirectory(target)) {
          throw new IOException(
              "target "
                  + target
                  + " exists and is not a directory — remove it or choose another target");
        }
        previous = StagingMarker.read(target);
        if (previous != null) {
          String stale = staleness(previous, attrs);
          if (stale == null) {
            stale = damage(previous);
          }
          if (stale == null) {
            LOG.info(
                "Reusing {}: {} files, {} already staged from {}",
                target,
                previous.files().size(),
                StagingProgress.mb(previous.bytes()),
                archive);
            return new Outcome(target, previous.files().size(), previous.bytes(), true);
          }
          LOG.info("Staged copy {} is stale ({}); extracting {} again", target, stale, archive);
        } else {
          LOG.info(
              "{} exists without a completion marker (an interrupted extraction?); extracting {}"
                  + " again",
              target,
              archive);
        }
      }
      Path partial = parent.resolve("." + name + ".partial-" + random());
      try {
        Extraction done = extract(partial, attrs);
        commit(partial, exists, previous == null, done);
        return new Outcome(target, done.files.size(), done.bytes, false);
      } catch (IOException | RuntimeException | Error e) {
        deleteQuietly(partial);
        throw e;
      }
    }
  }

  private BasicFileAttributes archiveAttributes() throws IOException {
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(archive, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(
          archive.toString(),
          null,
          "archive does not exist — check the path; in a notebook, mount the drive first and copy"
              + " the archive's path from the file browser");
    }
    if (attrs.isDirectory()) {
      throw new IOException(
          "archive "
              + archive
              + " is a directory, not an archive file — give the .zip, .tar or .tar.gz"
              + " file (a directory that is already unpacked needs no staging)");
    }
    if (!Files.isReadable(archive)) {
      throw new AccessDeniedException(
          archive.toString(), null, "archive cannot be read — check its permissions");
    }
    return attrs;
  }

  /** Why the marker does not describe the archive, or null if it does. */
  private String staleness(StagingMarker marker, BasicFileAttributes attrs) {
    if (marker.archiveSize() != attrs.size()) {
      return "the archive's size changed from "
          + marker.archiveSize()
          + " to "
          + attrs.size()
          + " bytes";
    }
    if (sha256 != null) {
      if (marker.sha256() == null) {
        return "it was staged without a SHA-256 check";
      }
      return marker.sha256().equalsIgnoreCase(sha256)
          ? null
          : "it was staged from an archive with SHA-256 " + marker.sha256();
    }
    long modified = attrs.lastModifiedTime().toMillis();
    if (marker.archiveModifiedMillis() != modified) {
      return "the archive was modified at "
          + Instant.ofEpochMilli(modified)
          + ", after the staged copy was made from the version of "
          + Instant.ofEpochMilli(marker.archiveModifiedMillis());
    }
    return null;
  }

  /** Which listed file is missing or has the wrong size, or null if all are intact. */
  private String damage(StagingMarker marker) {
    for (StagingMarker.FileEntry file : marker.files()) {
      Path path = target.resolve(file.path());
      try {
        BasicFileAttributes a =
            Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isRegularFile()) {
          return "'" + file.path() + "' is not a regular file";
        }
        if (a.size() != file.size()) {
          return "'" + file.path() + "' has " + a.size() + " bytes, expected " + file.size();
        }
      } catch (IOException e) {
        return "'" + file.path() + "' is missing";
      }
    }
    return null;
  }

  /** Everything an extraction produced, before it is committed. */
  private static final class Extraction {
    final Map<String, Long> files = new LinkedHashMap<>();
    final Set<String> dirs = new HashSet<>();
    long bytes;
  }

  private Extraction extract(Path dir, BasicFileAttributes attrs) throws IOException {
    ArchiveFormat format = ArchiveFormat.detect(archive);
    Files.createDirectory(dir);
    LOG.info(
        "Staging {} ({} {}) into {}", archive, format, StagingProgress.mb(attrs.size()), target);
    Extraction x = new Extraction();
    StagingProgress progress =
        new StagingProgress(
            progressOut, terminal, clock, archive.getFileName().toString(), attrs.size());
    byte[] buffer = new byte[BUFFER];
    try (InputStream file = Files.newInputStream(archive);
        ArchiveInput raw =
            new ArchiveInput(new BufferedInputStream(file, 1 << 20), sha256 != null);
        StagingSyncer syncer = new StagingSyncer(ops, FSYNC_THREADS)) {
      ArchiveReader reader;
      try {
        reader = format.open(archive, raw);
      } catch (IOException e) {
        throw corrupt(e, null);
      }
      try (reader) {
        String last = null;
        while (true) {
          ArchiveEntry entry;
          try {
            entry = reader.next();
          } catch (IOException e) {
            throw corrupt(e, last == null ? null : "after entry '" + last + "'");
          }
          if (entry == null) {
            break;
          }
          last = entry.name();
          String rel = StagingPaths.relative(entry.name(), target);
          switch (entry.kind()) {
            case SYMLINK:
            case HARDLINK:
              throw StagingPaths.unsafe(
                  entry.name(),
                  target,
                  "is a "
                      + entry.typeDescription()
                      + (entry.linkTarget().isEmpty() ? "" : " to '" + entry.linkTarget() + "'")
                      + "; links are not extracted because they can point outside "
                      + target);
            case OTHER:
              throw new IOException(
                  "archive entry '"
                      + entry.name()
                      + "' is a "
                      + entry.typeDescription()
                      + ", which Kiln does not extract — re-create the archive with only files and"
                      + " directories; it was not extracted");
            case DIRECTORY:
              directory(dir, rel, entry.name(), x);
              break;
            case FILE:
              if (rel.isEmpty()) {
                throw StagingPaths.unsafe(entry.name(), target, "has no file name");
              }
              Path path = StagingPaths.resolve(dir, rel, entry.name(), target);
              int slash = rel.lastIndexOf('/');
              if (slash > 0) {
                directory(dir, rel.substring(0, slash), entry.name(), x);
              }
              long size = copy(reader.content(), path, entry, buffer, raw, progress, x);
              if (entry.size() >= 0 && size != entry.size()) {
                throw corrupt(
                    new IOException(
                        "entry '"
                            + entry.name()
                            + "' has "
                            + size
                            + " bytes but the archive says "
                            + entry.size()),
                    null);
              }
              syncer.file(path);
              Long before = x.files.put(rel, size);
              x.bytes += size - (before == null ? 0 : before);
              break;
            default:
              throw new AssertionError(entry.kind());
          }
          progress.update(raw.count(), x.files.size());
        }
        try {
          reader.finish();
        } catch (IOException e) {
          throw corrupt(e, last == null ? null : "after entry '" + last + "'");
        }
      }
      String actual = raw.sha256();
      if (sha256 != null && !sha256.equalsIgnoreCase(actual)) {
        throw new IOException(
            "archive "
                + archive
                + " has SHA-256 "
                + actual
                + " but "
                + sha256
                + " was expected — the archive is damaged or not the one you meant: copy it again,"
                + " or correct the expected digest; nothing was staged");
      }
      progress.done(raw.count(), x.files.size());
      try {
        for (String d : x.dirs) {
          syncer.directory(dir.resolve(d));
        }
        syncer.await();
        new StagingMarker(
                StagingMarker.FORMAT,
                archive.toString(),
                attrs.size(),
                attrs.lastModifiedTime().toMillis(),
                sha256 == null ? null : sha256.toLowerCase(Locale.ROOT),
                Instant.now(clock).toString(),
                x.bytes,
                x.files.entrySet().stream()
                    .map(e -> new StagingMarker.FileEntry(e.getKey(), e.getValue()))
                    .toList())
            .write(dir, ops);
        ops.forceDirectory(dir);
      } catch (IOException e) {
        throw writeFailed("the extracted files", e);
      }
    }
    return x;
  }

  private void directory(Path dir, String rel, String entryName, Extraction x) throws IOException {
    if (rel.isEmpty() || x.dirs.contains(rel)) {
      return;
    }
    int slash = rel.lastIndexOf('/');
    if (slash > 0) {
      directory(dir, rel.substring(0, slash), entryName, x);
    }
    Path path = StagingPaths.resolve(dir, rel, entryName, target);
    try {
      Files.createDirectory(path);
    } catch (FileAlreadyExistsException e) {
      if (!Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
        throw new IOException(
            "archive entry '"
                + entryName
                + "' needs '"
                + rel
                + "' to be a directory, but the archive also"
                + " has a file of that name — the archive is inconsistent; it was not extracted");
      }
    } catch (IOException e) {
      throw writeFailed(entryName, e);
    }
    x.dirs.add(rel);
  }

  private long copy(
      InputStream in,
      Path path,
      ArchiveEntry entry,
      byte[] buffer,
      ArchiveInput raw,
      StagingProgress progress,
      Extraction x)
      throws IOException {
    long written = 0;
    OutputStream out;
    try {
      out = ops.create(path);
    } catch (IOException e) {
      throw writeFailed(entry.name(), e);
    }
    boolean ok = false;
    try {
      while (true) {
        int n;
        try {
          n = in.read(buffer);
        } catch (IOException e) {
          throw corrupt(e, "reading entry '" + entry.name() + "'");
        }
        if (n < 0) {
          break;
        }
        try {
          out.write(buffer, 0, n);
        } catch (IOException e) {
          throw writeFailed(entry.name(), e);
        }
        written += n;
        if (written >= BUFFER) {
          progress.update(raw.count(), x.files.size());
        }
      }
      ok = true;
    } finally {
      try {
        out.close();
      } catch (IOException e) {
        if (ok) {
          throw writeFailed(entry.name(), e);
        }
      }
    }
    return written;
  }

  private void commit(Path partial, boolean exists, boolean unmarked, Extraction x)
      throws IOException {
    if (!exists) {
      ops.move(partial, target);
      ops.forceDirectory(parent);
      LOG.info("Staged {} files ({}) into {}", x.files.size(), StagingProgress.mb(x.bytes), target);
      return;
    }
    if (unmarked) {
      String foreign = foreignContent(x);
      if (foreign != null) {
        throw new IOException(
            "target "
                + target
                + " already exists, has no Kiln completion marker, and holds '"
                + foreign
                + "', which is not in the archive — refusing to replace a directory Kiln did not"
                + " create; choose a new or empty target directory, or delete this one yourself");
      }
    }
    Path old = parent.resolve("." + name + ".old-" + random());
    ops.move(target, old);
    try {
      ops.move(partial, target);
    } catch (IOException e) {
      try {
        ops.move(old, target);
      } catch (IOException restore) {
        e.addSuppressed(restore);
      }
      throw writeFailed("the staged directory", e);
    }
    ops.forceDirectory(parent);
    LOG.info(
        "Staged {} files ({}) into {}, replacing the previous copy",
        x.files.size(),
        StagingProgress.mb(x.bytes),
        target);
    deleteQuietly(old);
  }

  /** A file or directory in the unmarked target that the new extraction does not contain. */
  private String foreignContent(Extraction x) throws IOException {
    try (Stream<Path> walk = Files.walk(target)) {
      return walk.filter(p -> !p.equals(target))
          .map(
              p -> {
                String rel = target.relativize(p).toString().replace('\\', '/');
                boolean known =
                    Files.isSymbolicLink(p)
                        ? false
                        : Files.isDirectory(p)
                            ? x.dirs.contains(rel)
                            : x.files.containsKey(rel) || rel.equals(StagingPaths.MARKER);
                return known ? null : rel;
              })
          .filter(r -> r != null)
          .findFirst()
          .orElse(null);
    }
  }

  private void cleanLeftovers() {
    String partialPrefix = "." + name + ".partial-";
    String oldPrefix = "." + name + ".old-";
    List<Path> leftovers = new ArrayList<>();
    try (DirectoryStream<Path> siblings = Files.newDirectoryStream(parent)) {
      for (Path p : siblings) {
        String n = p.getFileName().toString();
        if (n.startsWith(partialPrefix) || n.startsWith(oldPrefix)) {
          leftovers.add(p);
        }
      }
    } catch (IOException e) {
      LOG.warn(
          "Could not list {} to clean up earlier interrupted staging: {}", parent, e.toString());
    }
    for (Path p : leftovers) {
      LOG.info("Removing {}, left over by an interrupted staging", p);
      deleteQuietly(p);
    }
  }

  /**
   * @param where "reading entry 'x'" or "after entry 'x'", or null
   */
  private IOException corrupt(IOException e, String where) {
    String message = String.valueOf(e.getMessage());
    String context =
        where == null || message.contains(where.substring(where.indexOf('\'')))
            ? ""
            : " (" + where + ")";
    return new IOException(
        "archive "
            + archive
            + " is truncated or corrupt"
            + context
            + ": "
            + message
            + " — copy the archive again (or re-create it); nothing was staged",
        e);
  }

  private IOException writeFailed(String what, IOException e) {
    long free = -1;
    try {
      free = Files.getFileStore(parent).getUsableSpace();
    } catch (IOException ignored) {
      // unknown
    }
    String room = free < 0 ? "" : " (" + StagingProgress.mb(free) + " free now)";
    return new IOException(
        "could not write "
            + (what.startsWith("the ") ? what : "'" + what + "'")
            + " under "
            + parent
            + ": "
            + e.getMessage()
            + " — make sure the disk has room for the dataset"
            + room
            + " and is writable, or stage to another disk; the partial extraction was removed and"
            + " any previously staged copy was left untouched",
        e);
  }

  private static String random() {
    return Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
  }

  static void deleteQuietly(Path root) {
    try {
      if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
        return;
      }
      Files.walkFileTree(
          root,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                throws IOException {
              Files.deleteIfExists(file);
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
              Files.deleteIfExists(dir);
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      LOG.warn("Could not delete {}: {}; delete it by hand to free the space", root, e.toString());
    }
  }
}

package dev.kiln.data.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;

/** Turns archive entry names into safe relative paths, or rejects them. */
final class StagingPaths {
  /** The completion marker's name; no archive entry may use it. */
  static final String MARKER = ".kiln-staged.json";

  private StagingPaths() {}

  /**
   * Returns {@code name} normalised to a relative path of '/'-separated segments ("" for the root
   * itself), or throws when it is absolute or climbs out of the target.
   *
   * @param target the directory the user asked for, used only in the message
   */
  static String relative(String name, Path target) throws IOException {
    if (name.indexOf('\0') >= 0) {
      throw unsafe(name, target, "contains a NUL character");
    }
    if (name.startsWith("/")
        || name.startsWith("\\")
        || (name.length() >= 2 && name.charAt(1) == ':' && Character.isLetter(name.charAt(0)))) {
      throw unsafe(name, target, "is an absolute path and would be written outside " + target);
    }
    Deque<String> segments = new ArrayDeque<>();
    for (String segment : name.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".")) {
        continue;
      }
      if (segment.equals("..")) {
        if (segments.isEmpty()) {
          throw unsafe(name, target, "would be written outside " + target);
        }
        segments.removeLast();
      } else {
        segments.addLast(segment);
      }
    }
    String relative = String.join("/", segments);
    if (relative.equals(MARKER)) {
      throw new IOException(
          "archive entry '"
              + name
              + "' uses the name Kiln reserves for its completion marker;"
              + " rename that file in the archive; nothing was extracted");
    }
    return relative;
  }

  /** {@code dir.resolve(relative)}, checked once more to lie inside {@code dir}. */
  static Path resolve(Path dir, String relative, String name, Path target) throws IOException {
    Path path = dir.resolve(relative).normalize();
    if (!path.startsWith(dir)) {
      throw unsafe(name, target, "would be written outside " + target);
    }
    return path;
  }

  static IOException unsafe(String name, Path target, String why) {
    return new IOException(
        "archive entry '"
            + name
            + "' "
            + why
            + " — the archive is unsafe; it was not extracted. Remove that entry from the archive"
            + " (or re-create it from the dataset directory) and try again");
  }
}

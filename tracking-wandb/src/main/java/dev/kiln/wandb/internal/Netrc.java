package dev.kiln.wandb.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Reads the password of one {@code machine} entry from a netrc file, as curl and wandb do. */
public final class Netrc {
  private Netrc() {}

  /** The password for {@code host}, or empty when the file or the entry is missing. */
  public static Optional<String> password(Path file, String host) {
    if (file == null || host == null || !Files.isRegularFile(file)) {
      return Optional.empty();
    }
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return Optional.empty();
    }
    String[] tokens = text.trim().split("\\s+");
    boolean inMachine = false;
    for (int i = 0; i < tokens.length; i++) {
      String t = tokens[i];
      if (t.equals("machine") && i + 1 < tokens.length) {
        inMachine = tokens[++i].equalsIgnoreCase(host);
      } else if (t.equals("default")) {
        inMachine = false;
      } else if (t.equals("password") && i + 1 < tokens.length) {
        String p = tokens[++i];
        if (inMachine) {
          return Optional.of(p);
        }
      }
    }
    return Optional.empty();
  }
}

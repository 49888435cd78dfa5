package dev.kiln.checkpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A size-limited file system (a Linux tmpfs) mounted on a test's directory, so that a save meets a
 * real full disk ({@code ENOSPC}) rather than an injected failure. Mounting needs root (or {@code
 * CAP_SYS_ADMIN}); where it is refused, {@link #mount} says why and tests skip. Shared with other
 * modules' tests through this module's test jar.
 */
public final class SmallDisk implements AutoCloseable {

  private final Path mountPoint;

  private SmallDisk(Path mountPoint) {
    this.mountPoint = mountPoint;
  }

  /** The outcome of {@link #mount}: the disk, or why there is none. */
  public record Mounted(SmallDisk disk, String whyNot) {}

  /** Mounts a tmpfs of {@code bytes} on {@code mountPoint}, an empty directory. */
  public static Mounted mount(Path mountPoint, long bytes)
      throws IOException, InterruptedException {
    if (!System.getProperty("os.name", "").startsWith("Linux")) {
      return new Mounted(null, "a size-limited tmpfs needs Linux");
    }
    Files.createDirectories(mountPoint);
    String output =
        run("mount", "-t", "tmpfs", "-o", "size=" + bytes + ",mode=0700", "tmpfs", mountPoint);
    if (output != null) {
      return new Mounted(null, "cannot mount a size-limited tmpfs here (root needed): " + output);
    }
    return new Mounted(new SmallDisk(mountPoint), null);
  }

  public Path root() {
    return mountPoint;
  }

  /**
   * Unmounts the disk. If a file on it is still open (a leak in the code under test), detaches it
   * lazily, so that no mount outlives the test, and throws to report the leak.
   */
  @Override
  public void close() throws IOException, InterruptedException {
    String output = run("umount", mountPoint);
    if (output != null) {
      String lazy = run("umount", "--lazy", mountPoint);
      throw new IOException(
          "umount "
              + mountPoint
              + " failed: "
              + output
              + (lazy == null ? "; detached it lazily" : "; umount --lazy failed too: " + lazy)
              + " — a file on the small disk is still open");
    }
  }

  /** Runs a command; null if it succeeded, else what it printed. */
  private static String run(Object... command) throws IOException, InterruptedException {
    String[] args = new String[command.length];
    for (int i = 0; i < command.length; i++) {
      args[i] = command[i].toString();
    }
    Path log = Files.createTempFile("small-disk", ".log");
    try {
      Process process;
      try {
        process =
            new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      } catch (IOException e) {
        return e.getMessage(); // no such command
      }
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        return args[0] + " did not finish in 30 s";
      }
      String output = Files.readString(log, StandardCharsets.UTF_8).strip();
      return process.exitValue() == 0 ? null : output + " (exit " + process.exitValue() + ")";
    } finally {
      Files.deleteIfExists(log);
    }
  }
}

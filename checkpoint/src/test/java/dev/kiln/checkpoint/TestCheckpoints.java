package dev.kiln.checkpoint;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Helpers shared by the store tests. */
final class TestCheckpoints {

  static final Clock CLOCK = Clock.fixed(Instant.parse("2025-01-02T03:04:05Z"), ZoneOffset.UTC);

  private TestCheckpoints() {}

  /**
   * A writer producing {@code model.bin} ({@code size} bytes derived from {@code seed}) and {@code
   * state.json}.
   */
  static CheckpointWriter bytesWriter(int size, int seed) {
    return dir -> {
      Files.write(dir.resolve("model.bin"), bytes(size, seed));
      Files.writeString(dir.resolve("state.json"), "{\"seed\":" + seed + "}");
    };
  }

  /**
   * A writer producing {@code model.bin} ({@code size} random bytes from {@code seed}, so each part
   * of a large file has its own digest) and {@code state.json}.
   */
  static CheckpointWriter randomWriter(int size, long seed) {
    return dir -> {
      Files.write(dir.resolve("model.bin"), randomBytes(size, seed));
      Files.writeString(dir.resolve("state.json"), "{\"seed\":" + seed + "}");
    };
  }

  static byte[] randomBytes(int size, long seed) {
    byte[] data = new byte[size];
    new Random(seed).nextBytes(data);
    return data;
  }

  static byte[] bytes(int size, int seed) {
    byte[] data = new byte[size];
    for (int i = 0; i < size; i++) {
      data[i] = (byte) (i * 31 + seed);
    }
    return data;
  }

  static void flipByte(Path file, long offset) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.seek(offset);
      int b = raf.read();
      raf.seek(offset);
      raf.write(b ^ 0x01);
    }
  }

  static void truncate(Path file, long size) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(size);
    }
  }

  /** Names of all entries directly in {@code dir}, sorted. */
  static List<String> entries(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
    }
  }

  static List<Long> steps(CheckpointStore store) {
    return store.list().stream().map(Checkpoint::step).collect(Collectors.toList());
  }

  static boolean sameBytes(Path file, byte[] expected) throws IOException {
    return Arrays.equals(Files.readAllBytes(file), expected);
  }
}

package dev.kiln.checkpoint.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WritebackTest {

  @TempDir Path dir;

  @BeforeEach
  void onLinux() {
    assumeTrue(System.getProperty("os.name", "").startsWith("Linux"), "sync_file_range is Linux's");
  }

  @Test
  void isAvailableOnLinuxWithJna() {
    assertThat(Writeback.available()).isTrue();
    assertThat(FileOps.system().startWriteback(dir)).isTrue(); // a directory has no dirty pages
  }

  @Test
  void startsTheWritebackOfAFileStillBeingWrittenAndLeavesItsBytesAsTheyAre() throws IOException {
    byte[] bytes = new byte[3 << 20];
    new Random(1).nextBytes(bytes);
    Path file = Files.write(dir.resolve("model.ndlist"), bytes);

    assertThat(Writeback.start(file)).isTrue();

    assertThat(Files.readAllBytes(file)).isEqualTo(bytes);
  }

  @Test
  void findsAFileWhoseNameIsNotAscii() throws IOException {
    Path file =
        Files.write(dir.resolve("gewichte-\u00e4\u00f6\u00fc-\u6743\u91cd.ndlist"), new byte[4096]);

    assertThat(Writeback.start(file)).isTrue();
  }

  @Test
  void saysSoWhenItCannotOpenTheFile() {
    assertThat(Writeback.start(dir.resolve("missing.ndlist"))).isFalse();
    assertThat(FileOps.system().startWriteback(dir.resolve("missing.ndlist"))).isFalse();
  }
}

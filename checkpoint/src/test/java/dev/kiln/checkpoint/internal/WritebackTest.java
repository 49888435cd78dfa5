package dev.kiln.checkpoint.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WritebackTest {

  @TempDir Path dir;

  @BeforeEach
  void whereTheSystemTakesTheCall() {
    assumeTrue(Writeback.available(), "sync_file_range works only on Linux, with JNA");
  }

  @Test
  void suitsADirectoryOnALocalFileSystem() {
    assertThat(Writeback.suits(dir)).isTrue(); // the tests' temporary directory is local
    assertThat(Writeback.suits(dir.resolve("missing"))).isFalse();
  }

  @Test
  void startsTheWritebackOfAFileStillBeingWrittenAndLeavesItsBytesAsTheyAre() throws IOException {
    byte[] bytes = new byte[3 << 20];
    new Random(1).nextBytes(bytes);
    Path file = Files.write(dir.resolve("model.ndlist"), bytes);

    assertThat(Writeback.start(file)).isTrue();
    assertThat(FileOps.system().startWriteback(file)).isTrue();

    assertThat(Files.readAllBytes(file)).isEqualTo(bytes);
  }

  @Test
  void findsAFileWhoseNameIsNotAscii() throws IOException {
    String name = "gewichte-\u00e4\u00f6\u00fc-\u6743\u91cd.ndlist";
    assumeTrue(
        Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"))
            .newEncoder()
            .canEncode(name),
        "file names here cannot hold such characters");
    Path file = Files.write(dir.resolve(name), new byte[4096]);

    assertThat(Writeback.start(file)).isTrue();
  }

  @Test
  void saysSoWhenItCannotOpenTheFile() {
    assertThat(Writeback.start(dir.resolve("missing.ndlist"))).isFalse();
    assertThat(FileOps.system().startWriteback(dir.resolve("missing.ndlist"))).isFalse();
  }
}

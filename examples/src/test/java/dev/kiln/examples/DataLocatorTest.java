package dev.kiln.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataLocatorTest {

  @TempDir Path temp;

  private Path complete(String name) throws Exception {
    Path dir = Files.createDirectories(temp.resolve(name));
    for (String f :
        new String[] {
          "train-images-idx3-ubyte.gz",
          "train-labels-idx1-ubyte.gz",
          "t10k-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz"
        }) {
      Files.write(dir.resolve(f), new byte[] {0});
    }
    return dir;
  }

  private DataLocator locator(Path system) {
    return new DataLocator(system, temp.resolve("cache"), null);
  }

  @Test
  void theDataFlagWinsOverEverythingElse() throws Exception {
    Path flag = complete("flag");
    Path env = complete("env");
    Path system = complete("system");
    assertThat(locator(system).locate(Optional.of(flag), Optional.of(env.toString())))
        .isEqualTo(flag);
  }

  @Test
  void kilnDataComesNextThenTheSystemDirectory() throws Exception {
    Path env = complete("env");
    Path system = complete("system");
    assertThat(locator(system).locate(Optional.empty(), Optional.of(env.toString())))
        .isEqualTo(env);
    assertThat(locator(system).locate(Optional.empty(), Optional.empty())).isEqualTo(system);
  }

  @Test
  void aCompleteCacheIsUsedWhenNothingElseHasTheData() throws Exception {
    Path cache = complete("cache");
    assertThat(locator(temp.resolve("none")).locate(Optional.empty(), Optional.empty()))
        .isEqualTo(cache);
  }

  @Test
  void otherSpellingsOfTheFileNamesAreAccepted() throws Exception {
    Path dir = Files.createDirectories(temp.resolve("mirror"));
    for (String f :
        new String[] {
          "train-images.idx3-ubyte",
          "train-labels-idx1-ubyte",
          "test-images-idx3-ubyte.gz",
          "test-labels.idx1-ubyte.gz"
        }) {
      Files.write(dir.resolve(f), new byte[] {0});
    }
    assertThat(DataLocator.missingFiles(dir)).isEmpty();
  }

  @Test
  void aDataFlagNamingNoDirectoryIsRefusedEvenWhenTheSystemHasData() throws Exception {
    Path system = complete("system");
    Path missing = temp.resolve("nope");
    assertThatThrownBy(() -> locator(system).locate(Optional.of(missing), Optional.empty()))
        .isInstanceOf(UsageException.class)
        .hasMessageStartingWith("--data " + missing + ": no such directory")
        .hasMessageContaining("apt-get install dataset-fashion-mnist");
  }

  @Test
  void aDirectoryMissingFilesIsRefusedNamingThem() throws Exception {
    Path dir = complete("partial");
    Files.delete(dir.resolve("t10k-labels-idx1-ubyte.gz"));
    assertThatThrownBy(() -> locator(temp).locate(Optional.empty(), Optional.of(dir.toString())))
        .isInstanceOf(UsageException.class)
        .hasMessageStartingWith("KILN_DATA=" + dir + ": no t10k-labels-idx1-ubyte.gz")
        .hasMessageContaining("put the missing files there");
  }
}

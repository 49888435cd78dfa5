package dev.kiln.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.TrainingException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunLockTest {

  @TempDir Path dir;

  @Test
  void aSecondLockInThisJvmFailsUntilTheFirstIsClosed() {
    RunLock first = RunLock.acquire(dir);

    assertThatThrownBy(() -> RunLock.acquire(dir))
        .isInstanceOf(TrainingException.class)
        .hasMessageContaining("Another fit in this JVM is still running in " + dir)
        .hasMessageContaining("train under another run name");

    first.close();
    RunLock.acquire(dir).close();
  }

  @Test
  void aLockHeldByAnotherProcessNamesItsPidAndIsFreedWhenThatProcessIsKilled() throws Exception {
    Process holder =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                RunLockHolder.class.getName(),
                dir.toString())
            .redirectErrorStream(true)
            .start();
    try {
      BufferedReader out =
          new BufferedReader(
              new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      String line;
      do {
        line = out.readLine();
      } while (line != null && !line.equals("locked"));
      assertThat(line).as("the child took the lock").isEqualTo("locked");

      assertThatThrownBy(() -> RunLock.acquire(dir))
          .isInstanceOf(TrainingException.class)
          .hasMessageContaining("Another process (pid " + holder.pid() + ") is training in " + dir);
    } finally {
      holder.destroyForcibly();
      assertThat(holder.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }

    RunLock.acquire(dir).close(); // the OS released it with the process
  }
}

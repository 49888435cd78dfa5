package dev.kiln.wandb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WandbConfigTest {
  @TempDir Path dir;

  @Test
  void defaultsAreTheOfficialClientsDefaults() {
    WandbConfig c =
        WandbConfig.builder().environment(Map.of()).netrcFile(dir.resolve("none")).build();
    assertThat(c.baseUrl()).isEqualTo("https://api.wandb.ai");
    assertThat(c.project()).isEqualTo("uncategorized");
    assertThat(c.entity()).isEmpty();
    assertThat(c.mode()).isEqualTo(WandbConfig.Mode.ONLINE);
    assertThat(c.apiKey()).isEmpty();
    assertThat(c.transmitInterval()).isEqualTo(Duration.ofSeconds(15));
    assertThat(c.heartbeatInterval()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.initTimeout()).isEqualTo(Duration.ofSeconds(90));
    assertThat(c.failOnError()).isFalse();
  }

  @Test
  void everyVariableIsRead() {
    WandbConfig c =
        WandbConfig.builder()
            .environment(
                Map.ofEntries(
                    Map.entry("WANDB_API_KEY", "k1"),
                    Map.entry("WANDB_BASE_URL", "http://wandb.example.com:8080/"),
                    Map.entry("WANDB_ENTITY", "team"),
                    Map.entry("WANDB_PROJECT", "proj"),
                    Map.entry("WANDB_MODE", "dryrun"),
                    Map.entry("WANDB_RUN_ID", "abc12345"),
                    Map.entry("WANDB_RESUME", "must"),
                    Map.entry("WANDB_NAME", "nice"),
                    Map.entry("WANDB_NOTES", "n"),
                    Map.entry("WANDB_TAGS", "a, b,,c"),
                    Map.entry("WANDB_RUN_GROUP", "g"),
                    Map.entry("WANDB_JOB_TYPE", "train"),
                    Map.entry("WANDB__FILE_STREAM_TRANSMIT_INTERVAL", "0.5"),
                    Map.entry("KILN_WANDB_FAIL_ON_ERROR", "true")))
            .build();
    assertThat(c.apiKey()).contains("k1");
    assertThat(c.baseUrl()).isEqualTo("http://wandb.example.com:8080");
    assertThat(c.entity()).contains("team");
    assertThat(c.project()).isEqualTo("proj");
    assertThat(c.mode()).isEqualTo(WandbConfig.Mode.OFFLINE);
    assertThat(c.runId()).contains("abc12345");
    assertThat(c.resume()).contains(WandbConfig.Resume.MUST);
    assertThat(c.name()).contains("nice");
    assertThat(c.notes()).contains("n");
    assertThat(c.tags()).contains(List.of("a", "b", "c"));
    assertThat(c.group()).contains("g");
    assertThat(c.jobType()).contains("train");
    assertThat(c.transmitInterval()).isEqualTo(Duration.ofMillis(500));
    assertThat(c.failOnError()).isTrue();
  }

  @Test
  void explicitValuesWinOverTheEnvironment() {
    WandbConfig c =
        WandbConfig.builder()
            .environment(
                Map.of("WANDB_PROJECT", "env", "WANDB_MODE", "offline", "WANDB_API_KEY", "env-key"))
            .project("explicit")
            .mode(WandbConfig.Mode.DISABLED)
            .apiKey("explicit-key")
            .build();
    assertThat(c.project()).isEqualTo("explicit");
    assertThat(c.mode()).isEqualTo(WandbConfig.Mode.DISABLED);
    assertThat(c.apiKey()).contains("explicit-key");
    assertThat(c.toBuilder().build().project()).isEqualTo("explicit");
  }

  @Test
  void theKeyComesFromNetrcForTheBaseUrlsHost() throws Exception {
    Path netrc = dir.resolve("netrc");
    Files.writeString(
        netrc,
        "machine api.wandb.ai\n"
            + "  login user\n"
            + "  password hosted-key\n"
            + "machine wandb.example.com login user password self-key\n");
    WandbConfig hosted = WandbConfig.builder().environment(Map.of()).netrcFile(netrc).build();
    assertThat(hosted.apiKey()).contains("hosted-key");
    WandbConfig self =
        WandbConfig.builder()
            .environment(
                Map.of("WANDB_BASE_URL", "https://wandb.example.com", "NETRC", netrc.toString()))
            .build();
    assertThat(self.apiKey()).contains("self-key");
    WandbConfig envWins =
        WandbConfig.builder()
            .environment(Map.of("WANDB_API_KEY", "env-key"))
            .netrcFile(netrc)
            .build();
    assertThat(envWins.apiKey()).contains("env-key");
  }

  @Test
  void invalidValuesNameTheSetting() {
    assertThatThrownBy(
            () -> WandbConfig.builder().environment(Map.of("WANDB_MODE", "sometimes")).build())
        .hasMessageContaining("WANDB_MODE")
        .hasMessageContaining("sometimes");
    assertThatThrownBy(() -> WandbConfig.builder().environment(Map.of()).baseUrl("ftp://x").build())
        .hasMessageContaining("baseUrl");
    assertThatThrownBy(
            () ->
                WandbConfig.builder().environment(Map.of()).transmitInterval(Duration.ZERO).build())
        .hasMessageContaining("transmitInterval");
    assertThatThrownBy(() -> WandbConfig.builder().project(" ")).hasMessageContaining("project");
    assertThatThrownBy(
            () -> WandbConfig.builder().environment(Map.of("WANDB_RESUME", "maybe")).build())
        .hasMessageContaining("WANDB_RESUME");
  }

  @Test
  void toStringNeverShowsTheKey() {
    WandbConfig c = WandbConfig.builder().environment(Map.of()).apiKey("secret-key-123").build();
    assertThat(c.toString()).doesNotContain("secret-key-123").contains("apiKey=<set>");
  }
}

package dev.kiln.wandb;

import dev.kiln.wandb.internal.Netrc;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Immutable settings of the W&amp;B tracker.
 *
 * <p>Every setting is read the way the official client reads it: an explicit builder value wins,
 * otherwise the matching {@code WANDB_*} variable of the {@linkplain Builder#environment
 * environment} is used, otherwise the documented default. The environment defaults to {@link
 * System#getenv()}; the Kiln provider passes the run's settings instead (environment overlaid by
 * system properties and trainer config).
 *
 * <pre>{@code
 * WandbConfig config = WandbConfig.builder().project("mnist").entity("my-team").build();
 * }</pre>
 *
 * <table>
 *   <caption>Settings and their variables</caption>
 *   <tr><th>builder</th><th>variable</th><th>default</th></tr>
 *   <tr><td>apiKey</td><td>WANDB_API_KEY, else the netrc entry for the base URL's host</td><td>none</td></tr>
 *   <tr><td>baseUrl</td><td>WANDB_BASE_URL</td><td>{@code https://api.wandb.ai}</td></tr>
 *   <tr><td>entity</td><td>WANDB_ENTITY</td><td>the key's default entity</td></tr>
 *   <tr><td>project</td><td>WANDB_PROJECT</td><td>{@code uncategorized}</td></tr>
 *   <tr><td>mode</td><td>WANDB_MODE ({@code online|offline|disabled}, {@code dryrun}, {@code run})</td><td>online</td></tr>
 *   <tr><td>runId</td><td>WANDB_RUN_ID</td><td>Kiln's run id</td></tr>
 *   <tr><td>resume</td><td>WANDB_RESUME ({@code allow|must|never|auto})</td><td>unset</td></tr>
 *   <tr><td>name, notes, tags, group, jobType</td><td>WANDB_NAME, WANDB_NOTES, WANDB_TAGS (comma list), WANDB_RUN_GROUP, WANDB_JOB_TYPE</td><td>Kiln's run name; none</td></tr>
 *   <tr><td>netrcFile</td><td>NETRC</td><td>{@code ~/.netrc}</td></tr>
 *   <tr><td>transmitInterval</td><td>WANDB__FILE_STREAM_TRANSMIT_INTERVAL (seconds)</td><td>15 s</td></tr>
 *   <tr><td>heartbeatInterval</td><td>–</td><td>30 s</td></tr>
 *   <tr><td>statsInterval</td><td>WANDB__STATS_SAMPLING_INTERVAL (seconds)</td><td>15 s</td></tr>
 *   <tr><td>initTimeout</td><td>WANDB_INIT_TIMEOUT (seconds)</td><td>90 s</td></tr>
 *   <tr><td>finishTimeout</td><td>KILN_WANDB_FINISH_TIMEOUT (seconds)</td><td>60 s</td></tr>
 *   <tr><td>failOnError</td><td>KILN_WANDB_FAIL_ON_ERROR</td><td>false</td></tr>
 * </table>
 *
 * <p>{@link #toString()} never shows the API key.
 */
public final class WandbConfig {

  /** The hosted service's API root. */
  public static final String DEFAULT_BASE_URL = "https://api.wandb.ai";

  /** The project used when none is set, as the official client does. */
  public static final String DEFAULT_PROJECT = "uncategorized";

  /** Where the tracker sends data. */
  public enum Mode {
    /** Spool locally and upload in the background. */
    ONLINE,
    /** Spool locally only; upload later with {@link Sync}. */
    OFFLINE,
    /** Do nothing at all. */
    DISABLED
  }

  /** How to treat an existing run with the same id ({@code WANDB_RESUME}). */
  public enum Resume {
    /** Continue the run if it exists, else create it. */
    ALLOW,
    /** The run must exist; fail otherwise. */
    MUST,
    /** The run must not exist; fail otherwise. */
    NEVER,
    /** Like {@link #ALLOW}. */
    AUTO
  }

  private final String apiKey;
  private final String baseUrl;
  private final String entity;
  private final String project;
  private final Mode mode;
  private final String runId;
  private final Resume resume;
  private final String name;
  private final String notes;
  private final List<String> tags;
  private final String group;
  private final String jobType;
  private final Path netrcFile;
  private final Duration transmitInterval;
  private final Duration heartbeatInterval;
  private final Duration statsInterval;
  private final Duration initTimeout;
  private final Duration finishTimeout;
  private final Duration retryBaseDelay;
  private final Duration retryMaxDelay;
  private final boolean systemMetrics;
  private final boolean failOnError;

  private WandbConfig(Builder b, Map<String, String> env) {
    this.baseUrl = stripSlash(pick(b.baseUrl, env, "WANDB_BASE_URL").orElse(DEFAULT_BASE_URL));
    URI uri;
    try {
      uri = URI.create(baseUrl);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "baseUrl must be an http(s) URL, got '" + baseUrl + "'", e);
    }
    if (uri.getScheme() == null
        || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
        || uri.getHost() == null) {
      throw new IllegalArgumentException("baseUrl must be an http(s) URL, got '" + baseUrl + "'");
    }
    this.entity = pick(b.entity, env, "WANDB_ENTITY").orElse(null);
    this.project = pick(b.project, env, "WANDB_PROJECT").orElse(DEFAULT_PROJECT);
    this.mode = b.mode != null ? b.mode : parseMode(pick(null, env, "WANDB_MODE").orElse("online"));
    this.runId = pick(b.runId, env, "WANDB_RUN_ID").orElse(null);
    this.resume =
        b.resume != null
            ? b.resume
            : pick(null, env, "WANDB_RESUME").map(WandbConfig::parseResume).orElse(null);
    this.name = pick(b.name, env, "WANDB_NAME").orElse(null);
    this.notes = pick(b.notes, env, "WANDB_NOTES").orElse(null);
    this.tags =
        b.tags != null
            ? List.copyOf(b.tags)
            : pick(null, env, "WANDB_TAGS").map(WandbConfig::splitTags).orElse(null);
    this.group = pick(b.group, env, "WANDB_RUN_GROUP").orElse(null);
    this.jobType = pick(b.jobType, env, "WANDB_JOB_TYPE").orElse(null);
    this.netrcFile =
        b.netrcFile != null
            ? b.netrcFile
            : pick(null, env, "NETRC")
                .map(Path::of)
                .orElseGet(() -> Path.of(System.getProperty("user.home"), ".netrc"));
    this.apiKey =
        pick(b.apiKey, env, "WANDB_API_KEY")
            .or(() -> Netrc.password(netrcFile, uri.getHost()))
            .orElse(null);
    this.transmitInterval =
        positive(
            "transmitInterval",
            b.transmitInterval != null
                ? b.transmitInterval
                : seconds(env, "WANDB__FILE_STREAM_TRANSMIT_INTERVAL")
                    .orElse(Duration.ofSeconds(15)));
    this.heartbeatInterval =
        positive("heartbeatInterval", or(b.heartbeatInterval, Duration.ofSeconds(30)));
    this.statsInterval =
        positive(
            "statsInterval",
            b.statsInterval != null
                ? b.statsInterval
                : seconds(env, "WANDB__STATS_SAMPLING_INTERVAL").orElse(Duration.ofSeconds(15)));
    this.initTimeout =
        positive(
            "initTimeout",
            b.initTimeout != null
                ? b.initTimeout
                : seconds(env, "WANDB_INIT_TIMEOUT").orElse(Duration.ofSeconds(90)));
    this.finishTimeout =
        positive(
            "finishTimeout",
            b.finishTimeout != null
                ? b.finishTimeout
                : seconds(env, "KILN_WANDB_FINISH_TIMEOUT").orElse(Duration.ofSeconds(60)));
    this.retryBaseDelay = positive("retryBaseDelay", or(b.retryBaseDelay, Duration.ofSeconds(2)));
    this.retryMaxDelay = positive("retryMaxDelay", or(b.retryMaxDelay, Duration.ofSeconds(60)));
    this.systemMetrics = b.systemMetrics != null ? b.systemMetrics : true;
    this.failOnError =
        b.failOnError != null
            ? b.failOnError
            : pick(null, env, "KILN_WANDB_FAIL_ON_ERROR").map(Boolean::parseBoolean).orElse(false);
  }

  /** A builder whose fallback environment is {@link System#getenv()}. */
  public static Builder builder() {
    return new Builder();
  }

  /** All settings from {@link System#getenv()} and defaults. */
  public static WandbConfig fromEnvironment() {
    return builder().build();
  }

  /** A builder holding this config's resolved values as explicit values. */
  public Builder toBuilder() {
    Builder b = new Builder().environment(Map.of());
    b.apiKey = apiKey;
    b.baseUrl = baseUrl;
    b.entity = entity;
    b.project = project;
    b.mode = mode;
    b.runId = runId;
    b.resume = resume;
    b.name = name;
    b.notes = notes;
    b.tags = tags;
    b.group = group;
    b.jobType = jobType;
    b.netrcFile = netrcFile;
    b.transmitInterval = transmitInterval;
    b.heartbeatInterval = heartbeatInterval;
    b.statsInterval = statsInterval;
    b.initTimeout = initTimeout;
    b.finishTimeout = finishTimeout;
    b.retryBaseDelay = retryBaseDelay;
    b.retryMaxDelay = retryMaxDelay;
    b.systemMetrics = systemMetrics;
    b.failOnError = failOnError;
    return b;
  }

  /** The API key, if one was found. Never logged. */
  public Optional<String> apiKey() {
    return Optional.ofNullable(apiKey);
  }

  /** The API root without a trailing slash, e.g. {@code https://api.wandb.ai}. */
  public String baseUrl() {
    return baseUrl;
  }

  /** The entity (user or team); empty lets the server use the key's default entity. */
  public Optional<String> entity() {
    return Optional.ofNullable(entity);
  }

  /** The project; {@value #DEFAULT_PROJECT} unless set. */
  public String project() {
    return project;
  }

  /** Online, offline or disabled. */
  public Mode mode() {
    return mode;
  }

  /** The W&amp;B run id; empty means Kiln's run id. */
  public Optional<String> runId() {
    return Optional.ofNullable(runId);
  }

  /** {@code WANDB_RESUME}; empty means "continue if Kiln resumes, else a new run". */
  public Optional<Resume> resume() {
    return Optional.ofNullable(resume);
  }

  /** The run's display name; empty means Kiln's run name. */
  public Optional<String> name() {
    return Optional.ofNullable(name);
  }

  /** Run notes. */
  public Optional<String> notes() {
    return Optional.ofNullable(notes);
  }

  /** Run tags; empty means "leave unchanged". */
  public Optional<List<String>> tags() {
    return Optional.ofNullable(tags);
  }

  /** Run group. */
  public Optional<String> group() {
    return Optional.ofNullable(group);
  }

  /** Job type. */
  public Optional<String> jobType() {
    return Optional.ofNullable(jobType);
  }

  /** The netrc file consulted for the API key when {@code WANDB_API_KEY} is unset. */
  public Path netrcFile() {
    return netrcFile;
  }

  /** At most one data post per this interval; default 15 s as the official client. */
  public Duration transmitInterval() {
    return transmitInterval;
  }

  /** An empty post keeps the run alive after this much silence; default 30 s. */
  public Duration heartbeatInterval() {
    return heartbeatInterval;
  }

  /** How often CPU, memory and GPU memory are sampled; default 15 s. */
  public Duration statsInterval() {
    return statsInterval;
  }

  /** With {@link #failOnError()}, how long run start waits for the server; default 90 s. */
  public Duration initTimeout() {
    return initTimeout;
  }

  /**
   * How long {@code close()} waits for the final upload before leaving it to {@link Sync}; 60 s.
   */
  public Duration finishTimeout() {
    return finishTimeout;
  }

  /** First retry delay; doubles per attempt with up to 25% jitter. Default 2 s. */
  public Duration retryBaseDelay() {
    return retryBaseDelay;
  }

  /** Longest retry delay; default 60 s. */
  public Duration retryMaxDelay() {
    return retryMaxDelay;
  }

  /** Whether CPU, memory and GPU memory are sampled into the events file; default true. */
  public boolean systemMetrics() {
    return systemMetrics;
  }

  /**
   * Whether run start throws when the server rejects the key or the run (or no key is found), which
   * makes Kiln treat the tracker as failed. Default false: log once, keep spooling, and let
   * training go on.
   */
  public boolean failOnError() {
    return failOnError;
  }

  @Override
  public String toString() {
    return "WandbConfig{baseUrl="
        + baseUrl
        + ", apiKey="
        + (apiKey == null ? "<none>" : "<set>")
        + ", entity="
        + entity
        + ", project="
        + project
        + ", mode="
        + mode
        + ", runId="
        + runId
        + ", resume="
        + resume
        + "}";
  }

  private static Optional<String> pick(String explicit, Map<String, String> env, String var) {
    if (explicit != null) {
      return Optional.of(explicit);
    }
    String v = env.get(var);
    return v == null || v.isBlank() ? Optional.empty() : Optional.of(v.trim());
  }

  private static Optional<Duration> seconds(Map<String, String> env, String var) {
    return pick(null, env, var)
        .map(
            v -> {
              try {
                return Duration.ofMillis(Math.round(Double.parseDouble(v) * 1000));
              } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                    var + " must be a number of seconds, got '" + v + "'", e);
              }
            });
  }

  private static <T> T or(T v, T dflt) {
    return v != null ? v : dflt;
  }

  private static Duration positive(String field, Duration d) {
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(field + " must be positive, got " + d);
    }
    return d;
  }

  private static String stripSlash(String url) {
    String u = url.trim();
    while (u.endsWith("/")) {
      u = u.substring(0, u.length() - 1);
    }
    return u;
  }

  static Mode parseMode(String value) {
    switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "online":
      case "run":
        return Mode.ONLINE;
      case "offline":
      case "dryrun":
        return Mode.OFFLINE;
      case "disabled":
        return Mode.DISABLED;
      default:
        throw new IllegalArgumentException(
            "WANDB_MODE must be online, offline or disabled, got '" + value + "'");
    }
  }

  static Resume parseResume(String value) {
    String v = value.trim().toLowerCase(Locale.ROOT);
    switch (v) {
      case "allow":
      case "true":
        return Resume.ALLOW;
      case "must":
        return Resume.MUST;
      case "never":
      case "false":
        return Resume.NEVER;
      case "auto":
        return Resume.AUTO;
      default:
        throw new IllegalArgumentException(
            "WANDB_RESUME must be allow, must, never or auto, got '" + value + "'");
    }
  }

  private static List<String> splitTags(String csv) {
    List<String> out = new ArrayList<>();
    for (String t : csv.split(",")) {
      if (!t.isBlank()) {
        out.add(t.trim());
      }
    }
    return out;
  }

  /** Builds a {@link WandbConfig}; unset values fall back to the environment, then defaults. */
  public static final class Builder {
    private Map<String, String> environment = System.getenv();
    private String apiKey;
    private String baseUrl;
    private String entity;
    private String project;
    private Mode mode;
    private String runId;
    private Resume resume;
    private String name;
    private String notes;
    private List<String> tags;
    private String group;
    private String jobType;
    private Path netrcFile;
    private Duration transmitInterval;
    private Duration heartbeatInterval;
    private Duration statsInterval;
    private Duration initTimeout;
    private Duration finishTimeout;
    private Duration retryBaseDelay;
    private Duration retryMaxDelay;
    private Boolean systemMetrics;
    private Boolean failOnError;

    private Builder() {}

    /**
     * Where unset values are looked up by variable name ({@code WANDB_API_KEY}, ...). Defaults to
     * {@link System#getenv()}; pass {@code Map.of()} to ignore the environment.
     */
    public Builder environment(Map<String, String> environment) {
      this.environment = Map.copyOf(Objects.requireNonNull(environment, "environment"));
      return this;
    }

    /** The API key. Never logged or written to disk by the tracker. */
    public Builder apiKey(String apiKey) {
      this.apiKey = nonBlank("apiKey", apiKey);
      return this;
    }

    /** The API root, e.g. {@code https://wandb.example.com} for a self-hosted server. */
    public Builder baseUrl(String baseUrl) {
      this.baseUrl = nonBlank("baseUrl", baseUrl);
      return this;
    }

    /** The user or team. */
    public Builder entity(String entity) {
      this.entity = nonBlank("entity", entity);
      return this;
    }

    /** The project. */
    public Builder project(String project) {
      this.project = nonBlank("project", project);
      return this;
    }

    /** Online, offline or disabled. */
    public Builder mode(Mode mode) {
      this.mode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /** The W&amp;B run id (the run's URL component). */
    public Builder runId(String runId) {
      this.runId = nonBlank("runId", runId);
      return this;
    }

    /** How to treat an existing run with the same id. */
    public Builder resume(Resume resume) {
      this.resume = Objects.requireNonNull(resume, "resume");
      return this;
    }

    /** The run's display name. */
    public Builder name(String name) {
      this.name = nonBlank("name", name);
      return this;
    }

    /** Run notes. */
    public Builder notes(String notes) {
      this.notes = Objects.requireNonNull(notes, "notes");
      return this;
    }

    /** Run tags. */
    public Builder tags(List<String> tags) {
      this.tags = List.copyOf(Objects.requireNonNull(tags, "tags"));
      return this;
    }

    /** Run group. */
    public Builder group(String group) {
      this.group = nonBlank("group", group);
      return this;
    }

    /** Job type. */
    public Builder jobType(String jobType) {
      this.jobType = nonBlank("jobType", jobType);
      return this;
    }

    /** The netrc file searched for the API key; default {@code $NETRC} or {@code ~/.netrc}. */
    public Builder netrcFile(Path netrcFile) {
      this.netrcFile = Objects.requireNonNull(netrcFile, "netrcFile");
      return this;
    }

    /** At most one data post per interval (default 15 s). */
    public Builder transmitInterval(Duration transmitInterval) {
      this.transmitInterval = Objects.requireNonNull(transmitInterval, "transmitInterval");
      return this;
    }

    /** Silence after which an empty heartbeat post is sent (default 30 s). */
    public Builder heartbeatInterval(Duration heartbeatInterval) {
      this.heartbeatInterval = Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
      return this;
    }

    /** System metrics sampling interval (default 15 s). */
    public Builder statsInterval(Duration statsInterval) {
      this.statsInterval = Objects.requireNonNull(statsInterval, "statsInterval");
      return this;
    }

    /** How long a failing run start waits with {@link #failOnError(boolean)} (default 90 s). */
    public Builder initTimeout(Duration initTimeout) {
      this.initTimeout = Objects.requireNonNull(initTimeout, "initTimeout");
      return this;
    }

    /** How long close waits for the final upload (default 60 s). */
    public Builder finishTimeout(Duration finishTimeout) {
      this.finishTimeout = Objects.requireNonNull(finishTimeout, "finishTimeout");
      return this;
    }

    /** First retry delay (default 2 s); doubled per attempt, capped by {@code retryMaxDelay}. */
    public Builder retryBaseDelay(Duration retryBaseDelay) {
      this.retryBaseDelay = Objects.requireNonNull(retryBaseDelay, "retryBaseDelay");
      return this;
    }

    /** Longest retry delay (default 60 s). {@code Retry-After} from the server wins. */
    public Builder retryMaxDelay(Duration retryMaxDelay) {
      this.retryMaxDelay = Objects.requireNonNull(retryMaxDelay, "retryMaxDelay");
      return this;
    }

    /** Whether to sample CPU, memory and GPU memory (default true). */
    public Builder systemMetrics(boolean systemMetrics) {
      this.systemMetrics = systemMetrics;
      return this;
    }

    /** Whether run start throws on a rejected key or run (default false). */
    public Builder failOnError(boolean failOnError) {
      this.failOnError = failOnError;
      return this;
    }

    /**
     * Resolves every setting.
     *
     * @throws IllegalArgumentException naming the setting when a value is invalid
     */
    public WandbConfig build() {
      return new WandbConfig(this, environment);
    }

    private static String nonBlank(String field, String value) {
      Objects.requireNonNull(value, field);
      if (value.isBlank()) {
        throw new IllegalArgumentException(field + " must not be blank");
      }
      return value;
    }
  }
}

package dev.kiln.wandb.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.Credentials;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * The three requests the tracker makes: GraphQL {@code RunResumeStatus} and {@code UpsertBucket},
 * and {@code file_stream} posts. One call at a time; {@link #cancel()} aborts the one in flight.
 * The API key goes only into the {@code Authorization} header of requests to the base URL.
 */
public final class WandbApi {
  private static final MediaType JSON = MediaType.get("application/json");
  public static final String USER_AGENT = "W&B Java Client kiln-0.1.0";

  static final String UPSERT_BUCKET =
      "mutation UpsertBucket ($id: String, $name: String, $project: String, $entity: String,"
          + " $groupName: String, $description: String, $displayName: String, $notes: String,"
          + " $commit: String, $config: JSONString, $host: String, $debug: Boolean, $program:"
          + " String, $repo: String, $jobType: String, $state: String, $sweep: String, $tags:"
          + " [String!], $summaryMetrics: JSONString) {\n"
          + "\tupsertBucket(input: {id:$id,name:$name,groupName:$groupName,modelName:$project,"
          + "entityName:$entity,description:$description,displayName:$displayName,notes:$notes,"
          + "config:$config,commit:$commit,host:$host,debug:$debug,jobProgram:$program,"
          + "jobRepo:$repo,jobType:$jobType,state:$state,sweep:$sweep,tags:$tags,"
          + "summaryMetrics:$summaryMetrics}) {\n"
          + "\t\tbucket { id name displayName description config sweepName"
          + " project { id name entity { id name } } historyLineCount }\n"
          + "\t\tinserted\n\t}\n}\n";

  static final String RUN_RESUME_STATUS =
      "query RunResumeStatus ($project: String, $entity: String, $name: String!) {\n"
          + "\tmodel(name: $project, entityName: $entity) {\n"
          + "\t\tid name entity { id name }\n"
          + "\t\tbucket(name: $name, missingOk: true) { id name summaryMetrics displayName"
          + " logLineCount historyLineCount eventsLineCount historyTail eventsTail config tags"
          + " notes wandbConfig(keys: [\"t\"]) }\n"
          + "\t}\n}\n";

  private final OkHttpClient client;
  private final HttpUrl baseUrl;
  private final String authorization;
  private volatile Call inFlight;
  private volatile boolean cancelled;

  public WandbApi(OkHttpClient client, String baseUrl, String apiKey) {
    this.client = client.newBuilder().retryOnConnectionFailure(false).build();
    this.baseUrl = HttpUrl.get(baseUrl);
    this.authorization = apiKey == null ? null : Credentials.basic("api", apiKey);
  }

  /** The result of one attempt: a status and body, or an I/O failure. */
  public record Result(int status, String body, Duration retryAfter, IOException failure) {
    public boolean ok() {
      return failure == null && status >= 200 && status < 300;
    }

    /** Short text for logs: the status and server message, or the I/O failure. Never headers. */
    public String describe() {
      if (failure != null) {
        return failure.getClass().getSimpleName()
            + (failure.getMessage() == null ? "" : ": " + failure.getMessage());
      }
      String msg = errorMessage();
      return "HTTP " + status + (msg.isEmpty() ? "" : ": " + msg);
    }

    /** GraphQL {@code errors[].message} joined, or a top-level {@code error}. */
    public String errorMessage() {
      if (body == null || body.isBlank()) {
        return "";
      }
      try {
        JsonNode n = Json.MAPPER.readTree(body);
        StringBuilder sb = new StringBuilder();
        for (JsonNode e : n.path("errors")) {
          if (sb.length() > 0) {
            sb.append("; ");
          }
          sb.append(e.path("message").asText());
        }
        if (sb.length() == 0 && n.hasNonNull("error")) {
          sb.append(n.get("error").asText());
        }
        return sb.toString();
      } catch (IOException | RuntimeException e) {
        return body.length() > 200 ? body.substring(0, 200) + "…" : body;
      }
    }
  }

  public String host() {
    return baseUrl.host();
  }

  public String baseUrl() {
    String s = baseUrl.toString();
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }

  /** A GraphQL call; {@code variables} may be null. */
  public Result graphql(String operationName, String query, ObjectNode variables) {
    ObjectNode body = Json.MAPPER.createObjectNode();
    body.put("query", query);
    if (variables != null) {
      body.set("variables", variables);
    }
    body.put("operationName", operationName);
    HttpUrl url = baseUrl.newBuilder().addPathSegment("graphql").build();
    return post(url, Json.write(body).getBytes(java.nio.charset.StandardCharsets.UTF_8), 30);
  }

  /** One {@code file_stream} post with a prepared body (resent unchanged on retry). */
  public Result fileStream(String entity, String project, String run, byte[] body) {
    HttpUrl url =
        baseUrl
            .newBuilder()
            .addPathSegment("files")
            .addPathSegment(entity)
            .addPathSegment(project)
            .addPathSegment(run)
            .addPathSegment("file_stream")
            .build();
    return post(url, body, 180);
  }

  private Result post(HttpUrl url, byte[] body, int timeoutSeconds) {
    Request.Builder rb =
        new Request.Builder()
            .url(url)
            .header("User-Agent", USER_AGENT)
            .post(RequestBody.create(body, JSON));
    if (authorization != null) {
      rb.header("Authorization", authorization);
    }
    Call call = client.newCall(rb.build());
    call.timeout().timeout(timeoutSeconds, TimeUnit.SECONDS);
    inFlight = call;
    if (cancelled) {
      call.cancel();
    }
    try (Response r = call.execute()) {
      ResponseBody rbody = r.body();
      String text = rbody == null ? "" : rbody.string();
      return new Result(r.code(), text, retryAfter(r.header("Retry-After")), null);
    } catch (IOException e) {
      return new Result(-1, null, null, e);
    } finally {
      inFlight = null;
    }
  }

  /** Cancels the call in flight and all later ones. */
  public void cancel() {
    cancelled = true;
    Call c = inFlight;
    if (c != null) {
      c.cancel();
    }
  }

  static Duration retryAfter(String header) {
    if (header == null || header.isBlank()) {
      return null;
    }
    String h = header.trim();
    try {
      double secs = Double.parseDouble(h);
      return secs < 0 ? null : Duration.ofMillis(Math.round(secs * 1000));
    } catch (NumberFormatException e) {
      try {
        ZonedDateTime when = ZonedDateTime.parse(h, DateTimeFormatter.RFC_1123_DATE_TIME);
        Duration d = Duration.between(ZonedDateTime.now(when.getZone()), when);
        return d.isNegative() ? Duration.ZERO : d;
      } catch (RuntimeException e2) {
        return null;
      }
    }
  }

  /**
   * Whether a status means "stop, retrying will not help": 400, 401, 403, 404, 409 (except for
   * UpsertBucket), 410, 413, 422 and 501, as the official client treats them.
   */
  public static boolean isFatal(int status, boolean upsert) {
    switch (status) {
      case 400:
      case 401:
      case 403:
      case 404:
      case 410:
      case 413:
      case 422:
      case 501:
        return true;
      case 409:
        return !upsert;
      default:
        return false;
    }
  }
}

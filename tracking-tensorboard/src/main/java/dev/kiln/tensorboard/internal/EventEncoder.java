package dev.kiln.tensorboard.internal;

import dev.kiln.tracking.HistogramRecord.Histogram;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Encodes the few {@code tensorboard.Event} payloads Kiln writes, field numbers as in TensorBoard's
 * {@code event.proto}, {@code summary.proto}, {@code tensor.proto}, {@code histogram.proto} and the
 * hparams plugin's {@code plugin_data.proto}. Fields go in ascending number order, so the output is
 * byte-identical to protoc-generated code.
 */
final class EventEncoder {
  public static final String FILE_VERSION = "brain.Event:2";

  // Event
  private static final int EVENT_WALL_TIME = 1;
  private static final int EVENT_STEP = 2;
  private static final int EVENT_FILE_VERSION = 3;
  private static final int EVENT_SUMMARY = 5;
  private static final int EVENT_SESSION_LOG = 7;
  private static final int EVENT_SOURCE_METADATA = 10;
  // Summary / Summary.Value
  private static final int SUMMARY_VALUE = 1;
  private static final int VALUE_TAG = 1;
  private static final int VALUE_SIMPLE_VALUE = 2;
  private static final int VALUE_HISTO = 5;
  private static final int VALUE_TENSOR = 8;
  private static final int VALUE_METADATA = 9;
  // SummaryMetadata / PluginData
  private static final int METADATA_PLUGIN_DATA = 1;
  private static final int PLUGIN_NAME = 1;
  private static final int PLUGIN_CONTENT = 2;
  // TensorProto / TensorShapeProto
  private static final int TENSOR_DTYPE = 1;
  private static final int TENSOR_SHAPE = 2;
  private static final int TENSOR_STRING_VAL = 8;
  private static final int SHAPE_DIM = 2;
  private static final int DT_FLOAT = 1;
  private static final int DT_STRING = 7;
  // SessionLog
  private static final int SESSION_LOG_STATUS = 1;
  private static final int SESSION_LOG_START = 1;
  // HistogramProto
  private static final int HISTO_MIN = 1;
  private static final int HISTO_MAX = 2;
  private static final int HISTO_NUM = 3;
  private static final int HISTO_SUM = 4;
  private static final int HISTO_SUM_SQUARES = 5;
  private static final int HISTO_BUCKET_LIMIT = 6;
  private static final int HISTO_BUCKET = 7;
  // hparams plugin
  private static final int HPARAMS_EXPERIMENT = 2;
  private static final int HPARAMS_SESSION_START_INFO = 3;
  private static final int HPARAMS_SESSION_END_INFO = 4;

  public static final String HPARAMS_EXPERIMENT_TAG = "_hparams_/experiment";
  public static final String HPARAMS_SESSION_START_TAG = "_hparams_/session_start_info";
  public static final String HPARAMS_SESSION_END_TAG = "_hparams_/session_end_info";

  /** hparams {@code Status}: 1 SUCCESS, 2 FAILURE, 3 RUNNING. */
  public static final int STATUS_SUCCESS = 1;

  public static final int STATUS_FAILURE = 2;
  public static final int STATUS_RUNNING = 3;

  private static final byte[] FILE_VERSION_BYTES = FILE_VERSION.getBytes(StandardCharsets.UTF_8);

  private EventEncoder() {}

  private static void header(ProtoOutput out, double wallTime, long step) {
    out.doubleIfNonDefault(EVENT_WALL_TIME, wallTime);
    out.varintIfNonDefault(EVENT_STEP, step);
  }

  /**
   * {@code Event{wall_time, file_version="brain.Event:2", source_metadata{writer}}}; an empty
   * writer name omits source_metadata.
   */
  public static void fileVersion(ProtoOutput out, double wallTime, String writer) {
    header(out, wallTime, 0);
    out.bytesField(EVENT_FILE_VERSION, FILE_VERSION_BYTES);
    if (!writer.isEmpty()) {
      ProtoOutput source = new ProtoOutput();
      source.stringField(1, writer);
      out.message(EVENT_SOURCE_METADATA, source);
    }
  }

  /** {@code Event{wall_time, step, session_log{status=START}}}. */
  public static void sessionStart(ProtoOutput out, double wallTime, long step) {
    header(out, wallTime, step);
    ProtoOutput log = new ProtoOutput(8);
    log.varint(SESSION_LOG_STATUS, SESSION_LOG_START);
    out.message(EVENT_SESSION_LOG, log);
  }

  /**
   * One event holding {@code count} legacy scalars ({@code simple_value}, float32, always written,
   * so 0.0 survives), sized up front so it is encoded in one pass without copies.
   *
   * @param tags UTF-8 tag bytes, already sanitized
   */
  static void scalars(
      ProtoOutput out, double wallTime, long step, byte[][] tags, float[] values, int count) {
    int summarySize = 0;
    for (int i = 0; i < count; i++) {
      int valueSize = scalarValueSize(tags[i]);
      summarySize += 1 + ProtoOutput.varintSize(valueSize) + valueSize;
    }
    header(out, wallTime, step);
    out.key(EVENT_SUMMARY, ProtoOutput.WIRE_LEN);
    out.rawVarint(summarySize);
    for (int i = 0; i < count; i++) {
      byte[] tag = tags[i];
      out.key(SUMMARY_VALUE, ProtoOutput.WIRE_LEN);
      out.rawVarint(scalarValueSize(tag));
      out.bytesField(VALUE_TAG, tag);
      out.floatField(VALUE_SIMPLE_VALUE, values[i]);
    }
  }

  private static int scalarValueSize(byte[] tag) {
    return 1 + ProtoOutput.varintSize(tag.length) + tag.length + 5;
  }

  /** A rank-0 {@code DT_STRING} tensor with {@code text} plugin metadata. */
  public static void text(ProtoOutput out, double wallTime, long step, String tag, String text) {
    ProtoOutput tensor = new ProtoOutput();
    tensor.varint(TENSOR_DTYPE, DT_STRING);
    tensor.message(TENSOR_SHAPE, new ProtoOutput(0));
    tensor.stringField(TENSOR_STRING_VAL, text);
    summaryEvent(
        out, wallTime, step, value(tag, VALUE_TENSOR, tensor, pluginMetadata("text", null)));
  }

  /** Legacy {@code HistogramProto} values, one per histogram, in one event. */
  public static void histograms(
      ProtoOutput out, double wallTime, long step, List<Histogram> histograms, List<String> tags) {
    ProtoOutput summary = new ProtoOutput(256);
    for (int i = 0; i < histograms.size(); i++) {
      Histogram h = histograms.get(i);
      ProtoOutput histo = new ProtoOutput(32 + 16 * h.bucketCounts().length);
      histo.doubleIfNonDefault(HISTO_MIN, h.min());
      histo.doubleIfNonDefault(HISTO_MAX, h.max());
      histo.doubleIfNonDefault(HISTO_NUM, h.count());
      histo.doubleIfNonDefault(HISTO_SUM, h.sum());
      histo.doubleIfNonDefault(HISTO_SUM_SQUARES, h.sumSquares());
      histo.packedDoubles(HISTO_BUCKET_LIMIT, h.bucketLimits());
      histo.packedDoubles(HISTO_BUCKET, h.bucketCounts());
      summary.message(SUMMARY_VALUE, value(tags.get(i), VALUE_HISTO, histo, null));
    }
    header(out, wallTime, step);
    out.message(EVENT_SUMMARY, summary);
  }

  /**
   * {@code _hparams_/session_start_info}: the hyper-parameters (values must be {@link Number},
   * {@link Boolean} or {@link String}), the group name and the start time.
   */
  public static void hparamsSessionStart(
      ProtoOutput out,
      double wallTime,
      long step,
      Map<String, Object> hparams,
      String groupName,
      double startTimeSecs) {
    ProtoOutput start = new ProtoOutput(128);
    for (Map.Entry<String, Object> e : hparams.entrySet()) {
      ProtoOutput entry = new ProtoOutput();
      entry.stringField(1, e.getKey());
      entry.message(2, structValue(e.getValue()));
      start.message(1, entry);
    }
    start.stringIfNonEmpty(4, groupName);
    start.doubleIfNonDefault(5, startTimeSecs);
    hparamsEvent(out, wallTime, step, HPARAMS_SESSION_START_TAG, HPARAMS_SESSION_START_INFO, start);
  }

  /** {@code _hparams_/session_end_info} with a status ({@link #STATUS_SUCCESS} …). */
  public static void hparamsSessionEnd(
      ProtoOutput out, double wallTime, long step, int status, double endTimeSecs) {
    ProtoOutput end = new ProtoOutput(16);
    end.varintIfNonDefault(1, status);
    end.doubleIfNonDefault(2, endTimeSecs);
    hparamsEvent(out, wallTime, step, HPARAMS_SESSION_END_TAG, HPARAMS_SESSION_END_INFO, end);
  }

  /**
   * {@code _hparams_/experiment} listing the hyper-parameters (type from their values) and the
   * metric tags (group empty: the session run itself).
   */
  public static void hparamsExperiment(
      ProtoOutput out,
      double wallTime,
      long step,
      Map<String, Object> hparams,
      List<String> metricTags,
      double timeCreatedSecs) {
    ProtoOutput experiment = new ProtoOutput(256);
    experiment.doubleIfNonDefault(3, timeCreatedSecs);
    for (Map.Entry<String, Object> e : hparams.entrySet()) {
      ProtoOutput info = new ProtoOutput();
      info.stringField(1, e.getKey());
      Object v = e.getValue();
      int type = v instanceof Boolean ? 2 : v instanceof Number ? 3 : 1; // BOOL, FLOAT64, STRING
      info.varint(4, type);
      experiment.message(4, info);
    }
    for (String tag : metricTags) {
      ProtoOutput name = new ProtoOutput();
      name.stringField(2, tag);
      ProtoOutput info = new ProtoOutput();
      info.message(1, name);
      experiment.message(5, info);
    }
    hparamsEvent(out, wallTime, step, HPARAMS_EXPERIMENT_TAG, HPARAMS_EXPERIMENT, experiment);
  }

  private static void hparamsEvent(
      ProtoOutput out, double wallTime, long step, String tag, int dataField, ProtoOutput data) {
    ProtoOutput pluginData = new ProtoOutput(data.size() + 8);
    // version (1) is 0: omitted.
    pluginData.message(dataField, data);
    // NULL_TENSOR: DT_FLOAT, shape [0] (a dim of size 0 is an empty Dim message).
    ProtoOutput shape = new ProtoOutput(4);
    shape.message(SHAPE_DIM, new ProtoOutput(0));
    ProtoOutput tensor = new ProtoOutput(8);
    tensor.varint(TENSOR_DTYPE, DT_FLOAT);
    tensor.message(TENSOR_SHAPE, shape);
    summaryEvent(
        out,
        wallTime,
        step,
        value(tag, VALUE_TENSOR, tensor, pluginMetadata("hparams", pluginData.toByteArray())));
  }

  /** {@code google.protobuf.Value}: oneof members, so 0, false and "" are written. */
  private static ProtoOutput structValue(Object v) {
    ProtoOutput value = new ProtoOutput(16);
    if (v instanceof Boolean b) {
      value.varint(4, b ? 1 : 0);
    } else if (v instanceof Number n) {
      value.doubleField(2, n.doubleValue());
    } else {
      value.stringField(3, String.valueOf(v));
    }
    return value;
  }

  private static ProtoOutput pluginMetadata(String pluginName, byte[] content) {
    ProtoOutput pluginData = new ProtoOutput();
    pluginData.stringField(PLUGIN_NAME, pluginName);
    if (content != null) {
      pluginData.bytesIfNonEmpty(PLUGIN_CONTENT, content);
    }
    ProtoOutput metadata = new ProtoOutput();
    metadata.message(METADATA_PLUGIN_DATA, pluginData);
    return metadata;
  }

  private static ProtoOutput value(String tag, int field, ProtoOutput data, ProtoOutput metadata) {
    ProtoOutput value = new ProtoOutput(data.size() + 64);
    value.stringField(VALUE_TAG, tag);
    value.message(field, data);
    if (metadata != null) {
      value.message(VALUE_METADATA, metadata);
    }
    return value;
  }

  private static void summaryEvent(ProtoOutput out, double wallTime, long step, ProtoOutput value) {
    ProtoOutput summary = new ProtoOutput(value.size() + 8);
    summary.message(SUMMARY_VALUE, value);
    header(out, wallTime, step);
    out.message(EVENT_SUMMARY, summary);
  }
}

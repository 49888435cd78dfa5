package dev.kiln.tensorboard;

import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Label;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Type;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MessageOptions;
import com.google.protobuf.DescriptorProtos.OneofDescriptorProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.StructProto;
import java.util.List;
import java.util.Map;

/**
 * An independent decoder: TensorBoard's messages declared from the field tables of {@code
 * tensorboard-format.md} §6 as protobuf descriptors, parsed with protobuf-java's {@link
 * DynamicMessage}. Shares no code with the writer.
 */
public final class TensorBoardProtos {
  public static final Descriptor EVENT;
  public static final Descriptor SUMMARY_VALUE;
  public static final Descriptor HPARAMS_PLUGIN_DATA;

  static {
    FileDescriptorProto file =
        FileDescriptorProto.newBuilder()
            .setName("kiln_test_tensorboard.proto")
            .setPackage("tensorboard")
            .setSyntax("proto3")
            .addDependency("google/protobuf/struct.proto")
            .addMessageType(
                msg("Event")
                    .addOneofDecl(OneofDescriptorProto.newBuilder().setName("what"))
                    .addField(f("wall_time", 1, Type.TYPE_DOUBLE))
                    .addField(f("step", 2, Type.TYPE_INT64))
                    .addField(oneof(f("file_version", 3, Type.TYPE_STRING), 0))
                    .addField(oneof(f("graph_def", 4, Type.TYPE_BYTES), 0))
                    .addField(oneof(m("summary", 5, ".tensorboard.Summary"), 0))
                    .addField(oneof(f("log_message", 6, Type.TYPE_BYTES), 0))
                    .addField(oneof(m("session_log", 7, ".tensorboard.SessionLog"), 0))
                    .addField(oneof(f("tagged_run_metadata", 8, Type.TYPE_BYTES), 0))
                    .addField(oneof(f("meta_graph_def", 9, Type.TYPE_BYTES), 0))
                    .addField(m("source_metadata", 10, ".tensorboard.SourceMetadata")))
            .addMessageType(msg("SourceMetadata").addField(f("writer", 1, Type.TYPE_STRING)))
            .addMessageType(
                msg("SessionLog")
                    .addField(f("status", 1, Type.TYPE_INT32))
                    .addField(f("checkpoint_path", 2, Type.TYPE_STRING))
                    .addField(f("msg", 3, Type.TYPE_STRING)))
            .addMessageType(
                msg("Summary")
                    .addField(rep(m("value", 1, ".tensorboard.Summary.Value")))
                    .addNestedType(
                        msg("Value")
                            .addOneofDecl(OneofDescriptorProto.newBuilder().setName("value"))
                            .addField(f("tag", 1, Type.TYPE_STRING))
                            .addField(oneof(f("simple_value", 2, Type.TYPE_FLOAT), 0))
                            .addField(
                                oneof(f("obsolete_old_style_histogram", 3, Type.TYPE_BYTES), 0))
                            .addField(oneof(f("image", 4, Type.TYPE_BYTES), 0))
                            .addField(oneof(m("histo", 5, ".tensorboard.HistogramProto"), 0))
                            .addField(oneof(f("audio", 6, Type.TYPE_BYTES), 0))
                            .addField(f("node_name", 7, Type.TYPE_STRING))
                            .addField(oneof(m("tensor", 8, ".tensorboard.TensorProto"), 0))
                            .addField(m("metadata", 9, ".tensorboard.SummaryMetadata"))))
            .addMessageType(
                msg("SummaryMetadata")
                    .addField(m("plugin_data", 1, ".tensorboard.SummaryMetadata.PluginData"))
                    .addField(f("display_name", 2, Type.TYPE_STRING))
                    .addField(f("summary_description", 3, Type.TYPE_STRING))
                    .addField(f("data_class", 4, Type.TYPE_INT32))
                    .addNestedType(
                        msg("PluginData")
                            .addField(f("plugin_name", 1, Type.TYPE_STRING))
                            .addField(f("content", 2, Type.TYPE_BYTES))))
            .addMessageType(
                msg("HistogramProto")
                    .addField(f("min", 1, Type.TYPE_DOUBLE))
                    .addField(f("max", 2, Type.TYPE_DOUBLE))
                    .addField(f("num", 3, Type.TYPE_DOUBLE))
                    .addField(f("sum", 4, Type.TYPE_DOUBLE))
                    .addField(f("sum_squares", 5, Type.TYPE_DOUBLE))
                    .addField(rep(f("bucket_limit", 6, Type.TYPE_DOUBLE)))
                    .addField(rep(f("bucket", 7, Type.TYPE_DOUBLE))))
            .addMessageType(
                msg("TensorProto")
                    .addField(f("dtype", 1, Type.TYPE_INT32))
                    .addField(m("tensor_shape", 2, ".tensorboard.TensorShapeProto"))
                    .addField(f("version_number", 3, Type.TYPE_INT32))
                    .addField(f("tensor_content", 4, Type.TYPE_BYTES))
                    .addField(rep(f("float_val", 5, Type.TYPE_FLOAT)))
                    .addField(rep(f("double_val", 6, Type.TYPE_DOUBLE)))
                    .addField(rep(f("int_val", 7, Type.TYPE_INT32)))
                    .addField(rep(f("string_val", 8, Type.TYPE_BYTES)))
                    .addField(rep(f("int64_val", 10, Type.TYPE_INT64)))
                    .addField(rep(f("bool_val", 11, Type.TYPE_BOOL))))
            .addMessageType(
                msg("TensorShapeProto")
                    .addField(rep(m("dim", 2, ".tensorboard.TensorShapeProto.Dim")))
                    .addField(f("unknown_rank", 3, Type.TYPE_BOOL))
                    .addNestedType(
                        msg("Dim")
                            .addField(f("size", 1, Type.TYPE_INT64))
                            .addField(f("name", 2, Type.TYPE_STRING))))
            // hparams plugin (package tensorboard.hparams upstream; the package is not on the wire)
            .addMessageType(
                msg("HParamsPluginData")
                    .addOneofDecl(OneofDescriptorProto.newBuilder().setName("data"))
                    .addField(f("version", 1, Type.TYPE_INT32))
                    .addField(oneof(m("experiment", 2, ".tensorboard.Experiment"), 0))
                    .addField(oneof(m("session_start_info", 3, ".tensorboard.SessionStartInfo"), 0))
                    .addField(oneof(m("session_end_info", 4, ".tensorboard.SessionEndInfo"), 0)))
            .addMessageType(
                msg("SessionStartInfo")
                    .addField(rep(m("hparams", 1, ".tensorboard.SessionStartInfo.HparamsEntry")))
                    .addField(f("model_uri", 2, Type.TYPE_STRING))
                    .addField(f("monitor_url", 3, Type.TYPE_STRING))
                    .addField(f("group_name", 4, Type.TYPE_STRING))
                    .addField(f("start_time_secs", 5, Type.TYPE_DOUBLE))
                    .addNestedType(
                        msg("HparamsEntry")
                            .setOptions(MessageOptions.newBuilder().setMapEntry(true))
                            .addField(f("key", 1, Type.TYPE_STRING))
                            .addField(m("value", 2, ".google.protobuf.Value"))))
            .addMessageType(
                msg("SessionEndInfo")
                    .addField(f("status", 1, Type.TYPE_INT32))
                    .addField(f("end_time_secs", 2, Type.TYPE_DOUBLE)))
            .addMessageType(
                msg("Experiment")
                    .addField(f("description", 1, Type.TYPE_STRING))
                    .addField(f("user", 2, Type.TYPE_STRING))
                    .addField(f("time_created_secs", 3, Type.TYPE_DOUBLE))
                    .addField(rep(m("hparam_infos", 4, ".tensorboard.HParamInfo")))
                    .addField(rep(m("metric_infos", 5, ".tensorboard.MetricInfo")))
                    .addField(f("name", 6, Type.TYPE_STRING)))
            .addMessageType(
                msg("HParamInfo")
                    .addField(f("name", 1, Type.TYPE_STRING))
                    .addField(f("display_name", 2, Type.TYPE_STRING))
                    .addField(f("description", 3, Type.TYPE_STRING))
                    .addField(f("type", 4, Type.TYPE_INT32))
                    .addField(f("differs", 7, Type.TYPE_BOOL)))
            .addMessageType(
                msg("MetricInfo")
                    .addField(m("name", 1, ".tensorboard.MetricName"))
                    .addField(f("display_name", 3, Type.TYPE_STRING))
                    .addField(f("description", 4, Type.TYPE_STRING))
                    .addField(f("dataset_type", 5, Type.TYPE_INT32)))
            .addMessageType(
                msg("MetricName")
                    .addField(f("group", 1, Type.TYPE_STRING))
                    .addField(f("tag", 2, Type.TYPE_STRING)))
            .build();
    try {
      FileDescriptor fd =
          FileDescriptor.buildFrom(file, new FileDescriptor[] {StructProto.getDescriptor()});
      EVENT = fd.findMessageTypeByName("Event");
      SUMMARY_VALUE = fd.findMessageTypeByName("Summary").findNestedTypeByName("Value");
      HPARAMS_PLUGIN_DATA = fd.findMessageTypeByName("HParamsPluginData");
    } catch (DescriptorValidationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private TensorBoardProtos() {}

  private static DescriptorProto.Builder msg(String name) {
    return DescriptorProto.newBuilder().setName(name);
  }

  private static FieldDescriptorProto.Builder f(String name, int number, Type type) {
    return FieldDescriptorProto.newBuilder()
        .setName(name)
        .setNumber(number)
        .setType(type)
        .setLabel(Label.LABEL_OPTIONAL);
  }

  private static FieldDescriptorProto.Builder m(String name, int number, String typeName) {
    return f(name, number, Type.TYPE_MESSAGE).setTypeName(typeName);
  }

  private static FieldDescriptorProto.Builder rep(FieldDescriptorProto.Builder b) {
    return b.setLabel(Label.LABEL_REPEATED);
  }

  private static FieldDescriptorProto.Builder oneof(FieldDescriptorProto.Builder b, int index) {
    return b.setOneofIndex(index);
  }

  /** Parses an Event and fails if any field number or wire type is not TensorBoard's. */
  public static DynamicMessage parseEvent(byte[] payload) throws InvalidProtocolBufferException {
    DynamicMessage event = DynamicMessage.parseFrom(EVENT, payload);
    assertNoUnknownFields(event, "Event");
    return event;
  }

  public static DynamicMessage parseHParams(com.google.protobuf.ByteString content)
      throws InvalidProtocolBufferException {
    DynamicMessage data = DynamicMessage.parseFrom(HPARAMS_PLUGIN_DATA, content);
    assertNoUnknownFields(data, "HParamsPluginData");
    return data;
  }

  private static void assertNoUnknownFields(Message m, String path) {
    if (!m.getUnknownFields().asMap().isEmpty()) {
      throw new AssertionError(
          path + " has fields TensorBoard does not know: " + m.getUnknownFields().asMap().keySet());
    }
    for (Map.Entry<FieldDescriptor, Object> e : m.getAllFields().entrySet()) {
      if (e.getKey().getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
        continue;
      }
      if (e.getKey().isRepeated()) {
        for (Object o : (List<?>) e.getValue()) {
          assertNoUnknownFields((Message) o, path + "." + e.getKey().getName());
        }
      } else {
        assertNoUnknownFields((Message) e.getValue(), path + "." + e.getKey().getName());
      }
    }
  }

  /** A field by dotted path ({@code "summary.value"}); for unset fields, the default. */
  public static Object get(Message m, String path) {
    Object current = m;
    for (String name : path.split("\\.")) {
      Message msg = (Message) current;
      FieldDescriptor fd = msg.getDescriptorForType().findFieldByName(name);
      if (fd == null) {
        throw new IllegalArgumentException(
            "no field " + name + " in " + msg.getDescriptorForType().getName());
      }
      current = msg.getField(fd);
    }
    return current;
  }

  /** Whether a singular field (or a oneof member) is present. */
  public static boolean has(Message m, String name) {
    return m.hasField(m.getDescriptorForType().findFieldByName(name));
  }
}

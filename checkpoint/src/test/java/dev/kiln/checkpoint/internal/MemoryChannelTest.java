package dev.kiln.checkpoint.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.NonWritableChannelException;
import org.junit.jupiter.api.Test;

class MemoryChannelTest {

  private static MemoryChannel channelOf(int... values) {
    byte[] bytes = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      bytes[i] = (byte) values[i];
    }
    return new MemoryChannel(ByteBuffer.wrap(bytes));
  }

  @Test
  void sequentialReadsAdvanceThePositionAndEndWithMinusOne() throws IOException {
    MemoryChannel channel = channelOf(1, 2, 3, 4, 5);
    ByteBuffer dst = ByteBuffer.allocate(3);

    assertThat(channel.read(dst)).isEqualTo(3);
    assertThat(dst.array()).containsExactly(1, 2, 3);
    assertThat(channel.position()).isEqualTo(3);
    dst.clear();
    assertThat(channel.read(dst)).isEqualTo(2);
    assertThat(channel.read(dst.clear())).isEqualTo(-1);
  }

  @Test
  void positionalReadsLeaveThePositionAlone() throws IOException {
    MemoryChannel channel = channelOf(1, 2, 3, 4, 5);
    ByteBuffer dst = ByteBuffer.allocate(2);

    assertThat(channel.read(dst, 2)).isEqualTo(2);

    assertThat(dst.array()).containsExactly(3, 4);
    assertThat(channel.position()).isZero();
    assertThat(channel.read(ByteBuffer.allocate(2), 5)).isEqualTo(-1);
    assertThat(channel.size()).isEqualTo(5);
  }

  @Test
  void readsIntoADirectBufferToo() throws IOException {
    MemoryChannel channel = channelOf(7, 8, 9);
    ByteBuffer dst = ByteBuffer.allocateDirect(8);

    assertThat(channel.read(dst, 1)).isEqualTo(2);

    assertThat(dst.flip().get()).isEqualTo((byte) 8);
    assertThat(dst.get()).isEqualTo((byte) 9);
  }

  @Test
  void theChannelCoversTheBufferFromItsPositionToItsLimit() throws IOException {
    ByteBuffer contents = ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5}).position(1).limit(4);

    MemoryChannel channel = new MemoryChannel(contents);

    assertThat(channel.size()).isEqualTo(3);
    ByteBuffer dst = ByteBuffer.allocate(3);
    channel.read(dst);
    assertThat(dst.array()).containsExactly(2, 3, 4);
  }

  @Test
  void sliceIsAViewOfTheBytesWithoutACopy() {
    ByteBuffer contents = ByteBuffer.wrap(new byte[] {1, 2, 3, 4});
    MemoryChannel channel = new MemoryChannel(contents);

    ByteBuffer slice = channel.slice(1, 2);
    contents.put(2, (byte) 42);

    assertThat(slice.remaining()).isEqualTo(2);
    assertThat(slice.get(1)).isEqualTo((byte) 42);
    assertThatThrownBy(() -> channel.slice(3, 2)).isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void everyWriteIsRefused() {
    MemoryChannel channel = channelOf(1, 2);

    assertThatThrownBy(() -> channel.write(ByteBuffer.allocate(1)))
        .isInstanceOf(NonWritableChannelException.class);
    assertThatThrownBy(() -> channel.write(ByteBuffer.allocate(1), 0))
        .isInstanceOf(NonWritableChannelException.class);
    assertThatThrownBy(() -> channel.truncate(0)).isInstanceOf(NonWritableChannelException.class);
  }

  @Test
  void aClosedChannelRefusesReads() throws IOException {
    MemoryChannel channel = channelOf(1, 2);

    channel.close();

    assertThat(channel.isOpen()).isFalse();
    assertThatThrownBy(() -> channel.read(ByteBuffer.allocate(1)))
        .isInstanceOf(ClosedChannelException.class);
  }
}

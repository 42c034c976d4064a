package io.deltasync.server.write;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.testing.Deltas;
import io.deltasync.v1.Delta;
import java.io.ByteArrayOutputStream;
import java.security.MessageDigest;
import org.junit.jupiter.api.Test;

/**
 * The delta digest stored with every idempotency claim must not change between releases (a retry's digest is
 * compared with one stored by an older node): it is SHA-256 of the delta's deterministic encoding, however that
 * encoding is produced.
 */
class DeltaDigestTest {
  /** The digest as computed before it was written into an exact-size array (issue 11, fifth part). */
  private static byte[] throughAStream(Delta delta) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    out.useDeterministicSerialization();
    delta.writeTo(out);
    out.flush();
    return MessageDigest.getInstance("SHA-256").digest(bytes.toByteArray());
  }

  @Test
  void theDigestIsSha256OfTheDeterministicEncoding() throws Exception {
    Struct.Builder document = Struct.newBuilder();
    // Inserted in an order the deterministic encoding sorts, and large enough to pass a stream's 4 KiB buffer.
    for (int i = 300; i > 0; i--) {
      document.putFields("key-" + i, Value.newBuilder().setStringValue("value " + i).build());
    }
    Delta delta = Deltas.create("d", document.build()).toBuilder().setBaseEtag("e").build();
    assertThat(delta.getSerializedSize()).isGreaterThan(4096);
    assertThat(WriteService.digest(delta)).isEqualTo(throughAStream(delta));
    Delta small = Deltas.create("s", Deltas.doc("b", "1").toBuilder().putFields("a", Value.newBuilder()
        .setNumberValue(-0.0).build()).build());
    assertThat(WriteService.digest(small)).isEqualTo(throughAStream(small));
    assertThat(WriteService.digest(small)).isNotEqualTo(WriteService.digest(delta));
  }
}

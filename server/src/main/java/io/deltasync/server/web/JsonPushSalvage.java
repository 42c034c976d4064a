package io.deltasync.server.web;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.deltasync.server.write.ParseFailure;
import io.deltasync.v1.Delta;
import io.deltasync.v1.PushRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A JSON Push whose body did not parse as a whole, taken apart delta by delta, as the gRPC port does for protobuf
 * (rpc.RequestParsing): a delta that is not JSON of a {@code Delta} (an unknown field such as a typo of
 * {@code baseRowVersion}, an unknown enum name, a string where a number goes) becomes a stand-in that the validator
 * rejects alone, naming it, and the other deltas of the batch are applied.
 *
 * <p>Only what lies inside one element of {@code deltas} is salvaged. The body has already passed {@link StrictJson}
 * (UTF-8, nesting, duplicate names, numbers in range: a body that breaks those is still refused whole), and the
 * rest of the request ({@code clientId}, the shape of {@code deltas}) must parse, or the whole body is refused as
 * before. Each element is parsed from its own bytes in the body, so its numbers and strings reach the parser exactly
 * as the client wrote them.
 */
final class JsonPushSalvage {
  private static final JsonFactory JSON = JsonFactory.builder().build();

  private JsonPushSalvage() {}

  /** The request with each unparseable delta replaced by a stand-in; empty if the failure is not inside a delta. */
  static Optional<PushRequest> salvage(byte[] body, JsonFormat.Parser parser) {
    Layout layout;
    try {
      layout = layout(body);
    } catch (IOException | UncheckedIOException e) {
      return Optional.empty();
    }
    if (layout == null) {
      return Optional.empty();
    }
    PushRequest.Builder request = PushRequest.newBuilder();
    try {
      // The body with "deltas": [] in place of its elements: everything but the deltas must parse as it is.
      String rest = new String(body, 0, layout.arrayStart + 1, StandardCharsets.UTF_8)
          + new String(body, layout.arrayEnd - 1, body.length - layout.arrayEnd + 1, StandardCharsets.UTF_8);
      parser.merge(rest, request);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      return Optional.empty();
    }
    boolean salvaged = false;
    for (int i = 0; i < layout.elements.size(); i++) {
      int[] range = layout.elements.get(i);
      String element = new String(body, range[0], range[1] - range[0], StandardCharsets.UTF_8);
      Delta.Builder delta = Delta.newBuilder();
      try {
        parser.merge(element, delta);
        request.addDeltas(delta);
      } catch (InvalidProtocolBufferException | RuntimeException e) {
        Delta.Builder standIn = Delta.newBuilder();
        deltaId(body, range).ifPresent(standIn::setDeltaId);
        String field = culprit(body, range, parser).map(name -> name + ": ").orElse("");
        request.addDeltas(ParseFailure.mark(standIn, "not JSON of a Delta (" + field + e.getMessage()
            + "); see docs/http.md"));
        salvaged = true;
      }
    }
    // Every delta parsed alone, so the failure was elsewhere (how the parts fit together): refuse the body whole.
    return salvaged ? Optional.of(request.build()) : Optional.empty();
  }

  /** Where the elements of the top-level "deltas" array are in the body (byte offsets); null if it has none. */
  private static Layout layout(byte[] body) throws IOException {
    try (JsonParser json = JSON.createParser(body)) {
      if (json.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      Layout found = null;
      for (JsonToken token = json.nextToken(); token == JsonToken.FIELD_NAME; token = json.nextToken()) {
        String name = json.currentName();
        JsonToken value = json.nextToken();
        if ((name.equals("deltas")) && value == JsonToken.START_ARRAY && found == null) {
          Layout layout = new Layout((int) json.currentTokenLocation().getByteOffset());
          for (JsonToken element = json.nextToken(); element != JsonToken.END_ARRAY; element = json.nextToken()) {
            if (element == null) {
              return null;
            }
            int start = (int) json.currentTokenLocation().getByteOffset();
            json.skipChildren();
            json.finishToken();  // a string element is read lazily: its end is known only once it is read whole
            layout.elements.add(new int[] {start, (int) json.currentLocation().getByteOffset()});
          }
          layout.arrayEnd = (int) json.currentLocation().getByteOffset();
          found = layout;
        } else {
          json.skipChildren();
        }
      }
      return found;
    }
  }

  /**
   * The first member of the element that does not parse on its own (the parser's messages do not always name it:
   * "Not an int64 value"), as the client spelled it; empty if the element is not an object or no single member
   * fails.
   */
  private static Optional<String> culprit(byte[] body, int[] range, JsonFormat.Parser parser) {
    try (JsonParser json = JSON.createParser(body, range[0], range[1] - range[0])) {
      if (json.nextToken() != JsonToken.START_OBJECT) {
        return Optional.empty();
      }
      for (JsonToken token = json.nextToken(); token == JsonToken.FIELD_NAME; token = json.nextToken()) {
        String name = json.currentName();
        json.nextToken();
        int start = range[0] + (int) json.currentTokenLocation().getByteOffset();
        json.skipChildren();
        json.finishToken();
        int end = range[0] + (int) json.currentLocation().getByteOffset();
        String member = "{\"" + new String(JsonStringEncoder.getInstance().quoteAsString(name)) + "\":" + new String(body, start, end - start,
            StandardCharsets.UTF_8) + "}";
        try {
          parser.merge(member, Delta.newBuilder());
        } catch (InvalidProtocolBufferException | RuntimeException e) {
          return Optional.of(name);
        }
      }
      return Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** The element's "deltaId" (or "delta_id") if it is an object holding that name with a string value. */
  private static Optional<String> deltaId(byte[] body, int[] range) {
    try (JsonParser json = JSON.createParser(body, range[0], range[1] - range[0])) {
      if (json.nextToken() != JsonToken.START_OBJECT) {
        return Optional.empty();
      }
      for (JsonToken token = json.nextToken(); token == JsonToken.FIELD_NAME; token = json.nextToken()) {
        String name = json.currentName();
        JsonToken value = json.nextToken();
        if ((name.equals("deltaId") || name.equals("delta_id")) && value == JsonToken.VALUE_STRING) {
          return Optional.of(json.getText());
        }
        json.skipChildren();
      }
      return Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static final class Layout {
    final int arrayStart;
    final List<int[]> elements = new ArrayList<>();
    int arrayEnd;

    Layout(int arrayStart) {
      this.arrayStart = arrayStart;
    }
  }
}

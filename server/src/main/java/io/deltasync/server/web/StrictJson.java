package io.deltasync.server.web;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.util.Optional;

/**
 * The checks a JSON request body passes before it is transcoded or parsed into the request message, because the
 * lenient parsers behind them (Armeria's transcoder, protobuf's JsonFormat over Gson) would otherwise replace what
 * they cannot represent: invalid UTF-8 and lone surrogates became U+FFFD, {@code 1e400} became the string
 * "Infinity". Refused instead (docs/http.md "Errors"): bytes that are not UTF-8, a string or name holding a lone
 * surrogate, a number beyond the range of a double, more than {@link #MAX_DEPTH} levels of nesting, duplicate
 * names, anything after the document.
 */
final class StrictJson {
  /** JSON levels a body may nest: the request's own (a few) plus a delta's data (at most 32, Json.MAX_DEPTH). */
  static final int MAX_DEPTH = 64;

  private static final JsonFactory FACTORY = JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
      .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();

  private StrictJson() {}

  /** Why {@code body} is refused, or empty when it passes. */
  static Optional<String> problem(byte[] body) {
    try (JsonParser parser = FACTORY.createParser(body)) {
      JsonToken token = parser.nextToken();
      if (token == null) {
        return Optional.of("empty (expected: a JSON object)");
      }
      int depth = 0;
      do {
        switch (token) {
          case START_OBJECT, START_ARRAY -> depth++;
          case END_OBJECT, END_ARRAY -> depth--;
          case FIELD_NAME -> {
            if (lone(parser.currentName())) {
              return Optional.of("the name '" + parser.currentName() + "' holds a lone surrogate (\\ud800-\\udfff "
                  + "without its pair: not a Unicode character)");
            }
          }
          case VALUE_STRING -> {
            if (lone(parser.getText())) {
              return Optional.of(at(parser) + "a string holds a lone surrogate (\\ud800-\\udfff without its pair: "
                  + "not a Unicode character)");
            }
          }
          case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
            if (Double.isInfinite(parser.getDoubleValue())) {
              return Optional.of(at(parser) + "the number " + abbreviated(parser.getText())
                  + " is beyond the range of a double (JSON numbers are doubles here)");
            }
          }
          default -> { }
        }
        if (depth == 0) {
          break;
        }
        token = parser.nextToken();
      } while (token != null);
      if (depth != 0) {
        return Optional.of("the document ends early");
      }
      if (parser.nextToken() != null) {
        return Optional.of("something follows the JSON document");
      }
      return Optional.empty();
    } catch (JsonProcessingException e) {
      return Optional.of(describe(e));
    } catch (IOException e) {
      return Optional.of("not readable JSON");
    }
  }

  private static String at(JsonParser parser) throws IOException {
    String name = parser.currentName();
    return name == null ? "" : "field '" + name + "': ";
  }

  private static String abbreviated(String text) {
    return text.length() > 40 ? text.substring(0, 40) + "..." : text;
  }

  /** Jackson's message, in words about the body rather than about Jackson. */
  private static String describe(JsonProcessingException e) {
    String message = String.valueOf(e.getOriginalMessage());
    if (message.contains("UTF-8") || message.contains("UTF8")) {
      return "not valid UTF-8 (JSON bodies must be UTF-8)";
    }
    if (message.contains("nesting depth")) {
      return "nested deeper than " + MAX_DEPTH + " levels (a delta's data may nest at most 32)";
    }
    if (message.contains("Duplicate field")) {
      return message.replace("Duplicate field", "duplicate name");
    }
    var location = e.getLocation();
    return "not JSON" + (location == null ? "" : " (line " + location.getLineNr() + ", column "
        + location.getColumnNr() + ")") + ": " + message.replace("\n", " ");
  }

  private static boolean lone(String text) {
    if (text == null) {
      return false;
    }
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
          i++;
        } else {
          return true;
        }
      } else if (Character.isLowSurrogate(c)) {
        return true;
      }
    }
    return false;
  }
}

package io.deltasync.server.write;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.Timestamps;
import com.google.rpc.BadRequest.FieldViolation;
import io.deltasync.server.error.Errors;
import io.deltasync.server.ot.Edit;
import io.deltasync.server.ot.InvalidOperationException;
import io.deltasync.server.ot.OperationCodec;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.Expected;
import io.deltasync.server.store.Json;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.Operation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Checks a delta before it may reach the database and names every bad field. The limits are documented in the
 * README ("Limits") and in the .proto comments; keep the three in step.
 */
final class DeltaValidator {
  static final int MAX_DELTA_ID_LENGTH = 128;
  static final int MAX_ENTITY_ID_LENGTH = 256;
  static final int MAX_ETAG_LENGTH = 64;
  static final int MAX_DATA_DEPTH = Json.MAX_DEPTH;
  private static final Pattern PRINTABLE_ASCII = Pattern.compile("[\\x21-\\x7E]+");
  private static final String LIMIT_EXCEEDED = Errors.reason(ErrorReason.ERROR_REASON_LIMIT_EXCEEDED);
  private static final String TOO_DEEP = "nested deeper than " + MAX_DATA_DEPTH + " levels";

  private final int maxDataBytes;
  private final int maxEditsPerDelta;

  DeltaValidator(int maxDataBytes, int maxEditsPerDelta) {
    this.maxDataBytes = maxDataBytes;
    this.maxEditsPerDelta = maxEditsPerDelta;
  }

  /** A validator for whole documents only ({@link #documentJson}); it refuses every delta with edits. */
  static DeltaValidator forDocuments(int maxDataBytes) {
    return new DeltaValidator(maxDataBytes, 0);
  }

  /**
   * Validation outcome: exactly one of {@code valid} and {@code violations} is meaningful.
   *
   * @param edits the delta's edits, decoded (empty for a delta with data)
   */
  record Outcome(ValidDelta valid, List<Edit> edits, List<FieldViolation> violations) {
    boolean isValid() {
      return violations.isEmpty();
    }

    /** LIMIT_EXCEEDED when every violation is a documented size limit (the delta is too big, not malformed). */
    ErrorReason reason() {
      return DeltaValidator.reason(violations);
    }
  }

  /** The reason for a set of violations: LIMIT_EXCEEDED when all of them are size limits, else INVALID_ARGUMENT. */
  static ErrorReason reason(List<FieldViolation> violations) {
    return !violations.isEmpty() && violations.stream().allMatch(v -> v.getReason().equals(LIMIT_EXCEEDED))
        ? ErrorReason.ERROR_REASON_LIMIT_EXCEEDED : ErrorReason.ERROR_REASON_INVALID_ARGUMENT;
  }

  /** A violation of a documented size limit, marked in the field violation's own reason. */
  private static FieldViolation limitViolation(String field, String description) {
    return Errors.violation(field, description).toBuilder().setReason(LIMIT_EXCEEDED).build();
  }

  /** Checks a client id (request level, shared by Push and the stream). */
  static List<FieldViolation> checkClientId(String field, String clientId) {
    List<FieldViolation> violations = new ArrayList<>();
    checkPrintableId(violations, field, clientId, MAX_DELTA_ID_LENGTH);
    return violations;
  }

  /** Checks an entity-type filter or subscription value. */
  static boolean isEntityType(String value) {
    return EntityKey.isEntityType(value);
  }

  /** Checks a scope filter or subscription value. */
  static boolean isScope(String value) {
    return EntityKey.isScope(value);
  }

  /** Checks one delta; {@code prefix} names it in field paths, for example {@code "deltas[3]"}. */
  Outcome validate(Delta delta, String prefix) {
    var unparseable = ParseFailure.of(delta);
    if (unparseable.isPresent()) {
      // A stand-in for a delta the server could not parse (see rpc.RequestParsing): nothing else in it is real.
      return new Outcome(null, List.of(), List.of(Errors.violation(prefix, unparseable.get())));
    }
    List<FieldViolation> violations = new ArrayList<>();
    checkPrintableId(violations, prefix + ".delta_id", delta.getDeltaId(), MAX_DELTA_ID_LENGTH);
    if (delta.getEntityType().isEmpty()) {
      violations.add(Errors.violation(prefix + ".entity_type", "required"));
    } else if (!isEntityType(delta.getEntityType())) {
      violations.add(Errors.violation(prefix + ".entity_type", "'" + abbreviate(delta.getEntityType())
          + "' (expected: a letter, then up to 63 letters, digits, '_', '-' or '.')"));
    }
    checkEntityId(violations, prefix + ".entity_id", delta.getEntityId());
    if (delta.getScope().isEmpty()) {
      violations.add(Errors.violation(prefix + ".scope", "required"));
    } else if (!isScope(delta.getScope())) {
      violations.add(Errors.violation(prefix + ".scope", "'" + abbreviate(delta.getScope())
          + "' (expected: 1 to 128 letters, digits or any of _ . : / @ -)"));
    }

    Operation operation = delta.getOperation();
    if (operation == Operation.OPERATION_UNSPECIFIED) {
      violations.add(Errors.violation(prefix + ".operation", "required (OPERATION_CREATE, OPERATION_UPDATE or "
          + "OPERATION_DELETE)"));
    } else if (operation == Operation.UNRECOGNIZED) {
      violations.add(Errors.violation(prefix + ".operation", "unknown value " + delta.getOperationValue()
          + " (expected: OPERATION_CREATE, OPERATION_UPDATE or OPERATION_DELETE)"));
    }
    if (delta.getConflictPolicy() == ConflictPolicy.UNRECOGNIZED) {
      violations.add(Errors.violation(prefix + ".conflict_policy", "unknown value "
          + delta.getConflictPolicyValue()));
    }

    if (delta.getBaseRowVersion() < 0) {
      violations.add(Errors.violation(prefix + ".base_row_version", delta.getBaseRowVersion()
          + " (expected: >= 0)"));
    }
    if (!delta.getBaseEtag().isEmpty()) {
      checkPrintableId(violations, prefix + ".base_etag", delta.getBaseEtag(), MAX_ETAG_LENGTH);
    }
    boolean hasBase = delta.getBaseRowVersion() > 0 || !delta.getBaseEtag().isEmpty();
    if ((operation == Operation.OPERATION_UPDATE || operation == Operation.OPERATION_DELETE) && !hasBase) {
      violations.add(Errors.violation(prefix + ".base_row_version", "required for "
          + operation.name() + " (the row_version or base_etag the change is based on)"));
    }
    if (delta.hasClientModifiedAt() && !Timestamps.isValid(delta.getClientModifiedAt())) {
      violations.add(Errors.violation(prefix + ".client_modified_at", "not a valid timestamp"));
    }
    String dataJson = "{}";
    boolean carriesData = delta.hasData() && delta.getData().getFieldsCount() > 0;
    boolean editsInstead = operation == Operation.OPERATION_UPDATE && delta.getEditsCount() > 0;
    if (operation == Operation.OPERATION_DELETE && carriesData) {
      violations.add(Errors.violation(prefix + ".data", "must be empty for OPERATION_DELETE"));
    } else if ((operation == Operation.OPERATION_CREATE || operation == Operation.OPERATION_UPDATE)
        && !delta.hasData() && !editsInstead) {
      violations.add(Errors.violation(prefix + ".data", "required for " + operation.name()
          + " (the new document; send {} for an empty one)"));
    } else if (delta.hasData()) {
      String json = documentJson(delta.getData(), prefix + ".data", violations);
      dataJson = json == null ? dataJson : json;
    }
    List<Edit> edits = List.of();
    if (delta.getEditsCount() > maxEditsPerDelta) {
      // Not decoded at all: the bound is what keeps the transform's O(edits x history) work short, and it may run
      // while the batch's transaction holds a transaction id (docs/operational-transform.md, "Bounded work").
      violations.add(limitViolation(prefix + ".edits", "count: " + delta.getEditsCount() + " edits (expected: <= "
          + maxEditsPerDelta + "; split them over several deltas, or compose them)"));
    } else if (delta.getEditsCount() > 0) {
      edits = decodeEdits(delta, prefix, violations);
    }

    if (!violations.isEmpty()) {
      return new Outcome(null, List.of(), violations);
    }
    EntityKey key = new EntityKey(delta.getScope(), delta.getEntityType(), delta.getEntityId());
    return new Outcome(new ValidDelta(delta, key, new Expected(delta.getBaseRowVersion(), delta.getBaseEtag()),
        dataJson), edits, List.of());
  }

  /**
   * Decodes a delta's edits. Edits are for UPDATE only, and replace data rather than accompany it: with both, it
   * would be unclear whether the edits apply to the base document or to data, and either reading silently drops
   * one of the two.
   */
  private static List<Edit> decodeEdits(Delta delta, String prefix, List<FieldViolation> violations) {
    Operation operation = delta.getOperation();
    if (operation == Operation.OPERATION_CREATE || operation == Operation.OPERATION_DELETE) {
      violations.add(Errors.violation(prefix + ".edits", "only for OPERATION_UPDATE (not " + operation.name()
          + "; a create sends the whole document in data)"));
    } else if (delta.hasData()) {
      violations.add(Errors.violation(prefix + ".edits", "send either data or edits, not both (edits apply to the "
          + "document at the base version; data replaces it)"));
    }
    try {
      return OperationCodec.fromProto(delta.getEditsList());
    } catch (InvalidOperationException e) {
      violations.addAll(violations(prefix, e));
      return List.of();
    }
  }

  /** An edit exception's violations as field violations of the delta named {@code prefix}. */
  static List<FieldViolation> violations(String prefix, InvalidOperationException e) {
    return e.violations().stream().map(v -> Errors.violation(prefix + "." + v.field(), v.description())).toList();
  }

  /**
   * The document as JSON, or null after adding a violation of {@code field} if it cannot be stored: too deep, a
   * U+0000 PostgreSQL jsonb refuses, a value JSON cannot hold, or more than the data limit. The same rules hold for
   * {@code data} and for the document edits produce.
   */
  String documentJson(Struct document, String field, List<FieldViolation> violations) {
    String problem = documentProblem(document, 1);
    if (problem != null) {
      violations.add(problem.equals(TOO_DEEP) ? limitViolation(field, problem) : Errors.violation(field, problem));
      return null;
    }
    String json = Json.toJson(document);
    int bytes = json.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > maxDataBytes) {
      violations.add(limitViolation(field, "size: " + bytes + " bytes as JSON (expected: <= " + maxDataBytes
          + ")"));
      return null;
    }
    return json;
  }

  private static void checkPrintableId(List<FieldViolation> violations, String field, String value, int maxLength) {
    if (value.isEmpty()) {
      violations.add(Errors.violation(field, "required"));
    } else if (value.length() > maxLength) {
      violations.add(Errors.violation(field, "length: " + value.length() + " (expected: <= " + maxLength + ")"));
    } else if (!PRINTABLE_ASCII.matcher(value).matches()) {
      violations.add(Errors.violation(field, "'" + abbreviate(value)
          + "' (expected: printable ASCII characters, no spaces)"));
    }
  }

  private static void checkEntityId(List<FieldViolation> violations, String field, String value) {
    if (value.isEmpty()) {
      violations.add(Errors.violation(field, "required"));
      return;
    }
    int codePoints = value.codePointCount(0, value.length());
    if (codePoints > MAX_ENTITY_ID_LENGTH) {
      violations.add(Errors.violation(field, "length: " + codePoints + " characters (expected: <= "
          + MAX_ENTITY_ID_LENGTH + ")"));
    } else if (value.codePoints().anyMatch(c -> Character.isISOControl(c) || (c >= Character.MIN_SURROGATE && c <= Character.MAX_SURROGATE))) {
      violations.add(Errors.violation(field, "contains a control character or a lone surrogate"));
    }
  }

  /** Why a document cannot be stored as jsonb, or null if it can. */
  private static String documentProblem(Struct struct, int depth) {
    if (depth > MAX_DATA_DEPTH) {
      return TOO_DEEP;
    }
    for (var entry : struct.getFieldsMap().entrySet()) {
      if (entry.getKey().indexOf('\0') >= 0) {
        return "a key contains U+0000, which PostgreSQL jsonb cannot store";
      }
      String problem = valueProblem(entry.getValue(), depth, "'" + abbreviate(entry.getKey()) + "'");
      if (problem != null) {
        return problem;
      }
    }
    return null;
  }

  private static String valueProblem(Value value, int depth, String where) {
    return switch (value.getKindCase()) {
      case NUMBER_VALUE -> Double.isFinite(value.getNumberValue()) ? null
          : "value at " + where + " is " + value.getNumberValue() + ", which JSON cannot represent";
      case STRING_VALUE -> value.getStringValue().indexOf('\0') < 0 ? null
          : "string at " + where + " contains U+0000, which PostgreSQL jsonb cannot store";
      case STRUCT_VALUE -> documentProblem(value.getStructValue(), depth + 1);
      case LIST_VALUE -> listProblem(value.getListValue(), depth + 1, where);
      case KIND_NOT_SET -> "value at " + where + " has no kind set (expected: null, number, string, bool, "
          + "object or list)";
      case NULL_VALUE, BOOL_VALUE -> null;
    };
  }

  private static String listProblem(ListValue list, int depth, String where) {
    if (depth > MAX_DATA_DEPTH) {
      return TOO_DEEP;
    }
    for (Value element : list.getValuesList()) {
      String problem = valueProblem(element, depth, where);
      if (problem != null) {
        return problem;
      }
    }
    return null;
  }

  private static String abbreviate(String value) {
    return value.length() <= 40 ? value : value.substring(0, 40) + "…";
  }
}

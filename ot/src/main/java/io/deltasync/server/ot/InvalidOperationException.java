package io.deltasync.server.ot;

import static java.util.Objects.requireNonNull;

import java.io.Serial;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Edits that are malformed or do not fit the document (a missing path, an index out of range, a retain past the end
 * of the text); the server turns it into a per-delta {@code INVALID_ARGUMENT} naming each field.
 */
public final class InvalidOperationException extends Exception {
  @Serial private static final long serialVersionUID = 1L;

  private final List<EditViolation> violations;

  /** An exception for one or more violations. */
  public InvalidOperationException(List<EditViolation> violations) {
    super(describe(violations));
    this.violations = List.copyOf(violations);
  }

  /** An exception for a single violation. */
  public InvalidOperationException(String field, String description) {
    this(List.of(new EditViolation(field, description)));
  }

  /** What is wrong, at least one entry, each naming its field. */
  public List<EditViolation> violations() {
    return violations;
  }

  private static String describe(List<EditViolation> violations) {
    requireNonNull(violations, "violations");
    if (violations.isEmpty()) {
      throw new IllegalArgumentException("violations: empty (expected: at least 1)");
    }
    return violations.stream().map(EditViolation::toString).collect(Collectors.joining("; "));
  }
}

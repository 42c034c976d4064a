package io.deltasync.server.ot;

import static java.util.Objects.requireNonNull;

/**
 * One reason an edit is invalid: the field named as in the proto, relative to the delta (for example
 * {@code edits[2].path[1]}), and what is wrong with it (for example {@code index 7 out of range (array length 3)}).
 */
public record EditViolation(String field, String description) {
  public EditViolation {
    requireNonNull(field, "field");
    requireNonNull(description, "description");
  }

  @Override
  public String toString() {
    return field + ": " + description;
  }
}

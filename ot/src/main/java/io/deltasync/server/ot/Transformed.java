package io.deltasync.server.ot;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * Two concurrent edit lists transformed past each other: {@code ops} applies after the original {@code against}, and
 * {@code against} applies after the original {@code ops}; both orders give the same document.
 */
public record Transformed(List<Edit> ops, List<Edit> against) {
  public Transformed {
    ops = List.copyOf(requireNonNull(ops, "ops"));
    against = List.copyOf(requireNonNull(against, "against"));
  }
}

package io.deltasync.server.store;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * A set of scopes given by patterns, as a credential's sync rules grant them: exact scopes ({@code user:alice}),
 * prefixes ({@code org:acme/*} matches every scope that starts with {@code org:acme/}) and {@code *} (every scope).
 * A {@code *} may only end a pattern. Used to restrict what a reader sees and where a writer writes.
 *
 * @param all whether every scope is in the set
 * @param exact the scopes named exactly
 * @param prefixes the prefixes (without the trailing {@code *}) every scope starting with which is in the set
 */
public record ScopeSet(boolean all, Set<String> exact, Set<String> prefixes) {
  /** Every scope (no restriction). */
  public static final ScopeSet ALL = new ScopeSet(true, Set.of(), Set.of());
  /** No scope at all. */
  public static final ScopeSet NONE = new ScopeSet(false, Set.of(), Set.of());

  /** Compact copy; sorted, so that equal sets print and bind the same way. */
  public ScopeSet {
    exact = all ? Set.of() : java.util.Collections.unmodifiableSortedSet(new TreeSet<>(exact));
    prefixes = all ? Set.of() : java.util.Collections.unmodifiableSortedSet(new TreeSet<>(prefixes));
  }

  /**
   * The set given by patterns.
   *
   * @throws IllegalArgumentException for a pattern that is neither a scope, nor a scope prefix followed by
   *     {@code *}, nor {@code *}
   */
  public static ScopeSet of(Collection<String> patterns) {
    List<String> exact = new ArrayList<>();
    List<String> prefixes = new ArrayList<>();
    for (String pattern : patterns) {
      if (!isPattern(pattern)) {
        throw new IllegalArgumentException("scope pattern: '" + pattern + "' (expected: a scope, a scope prefix "
            + "ending in *, or *)");
      }
      if (pattern.equals("*")) {
        return ALL;
      }
      if (pattern.endsWith("*")) {
        prefixes.add(pattern.substring(0, pattern.length() - 1));
      } else {
        exact.add(pattern);
      }
    }
    return new ScopeSet(false, Set.copyOf(exact), Set.copyOf(prefixes));
  }

  /** Whether {@code pattern} is a valid scope pattern. */
  public static boolean isPattern(String pattern) {
    if (pattern.equals("*")) {
      return true;
    }
    String body = pattern.endsWith("*") ? pattern.substring(0, pattern.length() - 1) : pattern;
    return EntityKey.isScope(body);
  }

  /** Whether the scope is in the set. */
  public boolean contains(String scope) {
    if (all || exact.contains(scope)) {
      return true;
    }
    for (String prefix : prefixes) {
      if (scope.startsWith(prefix)) {
        return true;
      }
    }
    return false;
  }

  /** Whether the set holds no scope. */
  public boolean isEmpty() {
    return !all && exact.isEmpty() && prefixes.isEmpty();
  }

  /** The union of two sets. */
  public ScopeSet union(ScopeSet other) {
    if (all || other.all) {
      return ALL;
    }
    Set<String> e = new TreeSet<>(exact);
    e.addAll(other.exact);
    Set<String> p = new TreeSet<>(prefixes);
    p.addAll(other.prefixes);
    return new ScopeSet(false, e, p);
  }

  /** The patterns, as configured ({@code *}, exact scopes, prefixes followed by {@code *}). */
  public List<String> patterns() {
    if (all) {
      return List.of("*");
    }
    List<String> patterns = new ArrayList<>(exact);
    prefixes.forEach(p -> patterns.add(p + "*"));
    return patterns;
  }

  /** The set as a SQL condition on a scope column: exact scopes as one array, each prefix with starts_with. */
  static org.jooq.Condition condition(ScopeSet set, org.jooq.Field<String> scope) {
    if (set.all()) {
      return org.jooq.impl.DSL.noCondition();
    }
    org.jooq.Condition any = org.jooq.impl.DSL.falseCondition();
    if (!set.exact().isEmpty()) {
      any = any.or(scope.eq(org.jooq.impl.DSL.any(org.jooq.impl.DSL.val(set.exact().toArray(String[]::new)))));
    }
    for (String prefix : set.prefixes()) {
      // starts_with, not LIKE: '_' is a legal scope character and a LIKE wildcard.
      any = any.or(org.jooq.impl.DSL.condition("starts_with({0}, {1})", scope, org.jooq.impl.DSL.val(prefix)));
    }
    return any;
  }

  @Override
  public String toString() {
    return String.join(",", patterns());
  }
}

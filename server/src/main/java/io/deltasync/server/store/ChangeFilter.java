package io.deltasync.server.store;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Which entities a reader wants: a union of selectors, each an entity type (or all types) within a set of scopes
 * (or all scopes). No selector at all means everything.
 *
 * <p>On top of the selectors, {@code readable} restricts every match to the scopes the reader may read (its
 * credential's sync rules): a filter with no selectors then means "everything the reader may read".
 *
 * @param selectors the selectors; empty = everything
 * @param readable the scopes the reader may read ({@link ScopeSet#ALL} when unrestricted)
 */
public record ChangeFilter(List<Selector> selectors, ScopeSet readable) {
  /**
   * The most selectors in one filter: subscriptions in one hello, entity types in one Pull. Each selector costs the
   * query at most two bind values (its type, and its scopes as one array), far below the 32,767 the driver can send.
   */
  public static final int MAX_SELECTORS = 100;

  /**
   * The most scopes one hello (all subscriptions together) or one Pull may name. Bound by what matching costs, not by
   * bind values: the scopes of a selector travel as one array.
   */
  public static final int MAX_SCOPES = 1_000;

  /**
   * One entity type (or all) in some scopes (or all).
   *
   * @param entityType the type; empty = all types
   * @param scopes the scopes; empty = all scopes
   */
  public record Selector(Optional<String> entityType, Set<String> scopes) {
    boolean matches(String scope, String type) {
      return (entityType.isEmpty() || entityType.get().equals(type)) && (scopes.isEmpty() || scopes.contains(scope));
    }
  }

  /** Compact copy. */
  public ChangeFilter {
    selectors = List.copyOf(selectors);
    java.util.Objects.requireNonNull(readable, "readable");
  }

  /** A filter of selectors with no restriction on scopes. */
  public ChangeFilter(List<Selector> selectors) {
    this(selectors, ScopeSet.ALL);
  }

  /** This filter, further restricted to the scopes in {@code allowed}. */
  public ChangeFilter restrictedTo(ScopeSet allowed) {
    return new ChangeFilter(selectors, allowed);
  }

  /** Whether this filter only passes the scopes of a credential (not every scope). */
  public boolean isRestricted() {
    return !readable.all();
  }

  /** Everything. */
  public static ChangeFilter all() {
    return new ChangeFilter(List.of());
  }

  /** Pull's filter: any of the types (empty = all) in any of the scopes (empty = all). */
  public static ChangeFilter of(List<String> entityTypes, List<String> scopes) {
    Set<String> scopeSet = Set.copyOf(scopes);
    if (entityTypes.isEmpty()) {
      return scopeSet.isEmpty() ? all() : new ChangeFilter(List.of(new Selector(Optional.empty(), scopeSet)));
    }
    return new ChangeFilter(entityTypes.stream().distinct()
        .map(type -> new Selector(Optional.of(type), scopeSet)).toList());
  }

  /** Whether a change to an entity of this scope and type passes the filter. */
  public boolean matches(String scope, String entityType) {
    if (!readable.contains(scope)) {
      return false;
    }
    if (selectors.isEmpty()) {
      return true;
    }
    // A plain loop, not a stream's anyMatch nor Optional.map: live delivery calls this per change and stream, and
    // JDK methods shared with every other call site (MatchOps, Optional.map) carry their type profiles, so the
    // first push after a start (the write path's own anyMatch) made the compiled delivery path trap on a
    // class_check at the first round (docs/performance.md, "Eighth pass: the first round").
    for (int i = 0; i < selectors.size(); i++) {
      if (selectors.get(i).matches(scope, entityType)) {
        return true;
      }
    }
    return false;
  }
}

package io.deltasync.server.changefeed;

import com.google.rpc.BadRequest.FieldViolation;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.EntityKey;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.Subscription;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What a reader asked to see, validated once the same way everywhere (a Sync hello, a Pull, a ListConflicts): the
 * filter its changes pass, and the scopes it named. Limits are checked before anything else, so that a request
 * naming tens of thousands of scopes is answered as too big, not with a violation per scope, and never reaches the
 * database.
 *
 * @param filter what passes
 * @param scopes the scopes named; empty when some subscription named none (every scope)
 */
public record Subscriptions(ChangeFilter filter, Set<String> scopes) {
  /** Compact copy. */
  public Subscriptions {
    scopes = Set.copyOf(scopes);
  }

  /** Whether a stream with these subscriptions may ask about {@code scope} (a checksum, for example). */
  public boolean covers(String scope) {
    return scopes.isEmpty() || scopes.contains(scope);
  }

  /**
   * The subscriptions of a hello ({@code field} names them in violations, e.g. "hello.subscriptions").
   *
   * @throws DeltaSyncException INVALID_ARGUMENT with LIMIT_EXCEEDED past the limits, with INVALID_ARGUMENT for a
   *     malformed scope or entity type
   */
  public static Subscriptions of(List<Subscription> subscriptions, String field) {
    List<FieldViolation> violations = new ArrayList<>();
    Subscriptions parsed = of(subscriptions, field, violations);
    throwIfAny(violations, ErrorReason.ERROR_REASON_INVALID_ARGUMENT);
    return parsed;
  }

  /**
   * As {@link #of(List, String)}, but malformed scopes and entity types are added to {@code violations} (for the
   * caller to report together with its own) instead of thrown; limits are still thrown at once.
   */
  public static Subscriptions of(List<Subscription> subscriptions, String field, List<FieldViolation> violations) {
    List<FieldViolation> limits = new ArrayList<>();
    if (subscriptions.size() > ChangeFilter.MAX_SELECTORS) {
      limits.add(Errors.limitViolation(field, "count: " + subscriptions.size() + " (expected: <= "
          + ChangeFilter.MAX_SELECTORS + ")"));
    }
    long scopeCount = subscriptions.stream().mapToLong(Subscription::getScopesCount).sum();
    if (scopeCount > ChangeFilter.MAX_SCOPES) {
      limits.add(Errors.limitViolation(field, "scopes: " + scopeCount + " in all subscriptions (expected: <= "
          + ChangeFilter.MAX_SCOPES + "; subscribe with empty scopes for all you may see, or open several streams)"));
    }
    throwIfAny(limits, ErrorReason.ERROR_REASON_LIMIT_EXCEEDED);
    List<ChangeFilter.Selector> selectors = new ArrayList<>();
    Set<String> scopes = new HashSet<>();
    boolean everyScope = subscriptions.isEmpty();
    for (int i = 0; i < subscriptions.size(); i++) {
      Subscription subscription = subscriptions.get(i);
      String at = field + "[" + i + "]";
      if (!subscription.getEntityType().isEmpty()) {
        checkEntityType(at + ".entity_type", subscription.getEntityType(), violations);
      }
      for (int j = 0; j < subscription.getScopesCount(); j++) {
        checkScope(at + ".scopes[" + j + "]", subscription.getScopes(j), violations);
      }
      everyScope |= subscription.getScopesCount() == 0;
      scopes.addAll(subscription.getScopesList());
      selectors.add(new ChangeFilter.Selector(
          subscription.getEntityType().isEmpty() ? Optional.empty() : Optional.of(subscription.getEntityType()),
          Set.copyOf(subscription.getScopesList())));
    }
    return new Subscriptions(new ChangeFilter(selectors), everyScope ? Set.of() : scopes);
  }

  /**
   * The filter of a Pull: changes of any of {@code entityTypes} (empty = all) in any of {@code scopes} (empty =
   * all), named in violations by the request's field names.
   */
  public static Subscriptions of(List<String> entityTypes, List<String> scopes) {
    List<FieldViolation> violations = new ArrayList<>();
    Subscriptions parsed = of(entityTypes, scopes, violations);
    throwIfAny(violations, ErrorReason.ERROR_REASON_INVALID_ARGUMENT);
    return parsed;
  }

  /** As {@link #of(List, List)}, with malformed values added to {@code violations} instead of thrown. */
  public static Subscriptions of(List<String> entityTypes, List<String> scopes, List<FieldViolation> violations) {
    List<FieldViolation> limits = new ArrayList<>();
    if (entityTypes.size() > ChangeFilter.MAX_SELECTORS) {
      limits.add(Errors.limitViolation("entity_types", "count: " + entityTypes.size() + " (expected: <= "
          + ChangeFilter.MAX_SELECTORS + ")"));
    }
    if (scopes.size() > ChangeFilter.MAX_SCOPES) {
      limits.add(Errors.limitViolation("scopes", "count: " + scopes.size() + " (expected: <= "
          + ChangeFilter.MAX_SCOPES + "; pull the scopes in groups, or leave scopes empty for all you may see)"));
    }
    throwIfAny(limits, ErrorReason.ERROR_REASON_LIMIT_EXCEEDED);
    for (int i = 0; i < entityTypes.size(); i++) {
      checkEntityType("entity_types[" + i + "]", entityTypes.get(i), violations);
    }
    for (int i = 0; i < scopes.size(); i++) {
      checkScope("scopes[" + i + "]", scopes.get(i), violations);
    }
    return new Subscriptions(ChangeFilter.of(entityTypes, scopes), Set.copyOf(scopes));
  }

  /** Adds a violation if {@code value} is not a well-formed scope. */
  public static void checkScope(String field, String value, List<FieldViolation> violations) {
    if (!EntityKey.isScope(value)) {
      violations.add(Errors.violation(field, "'" + value + "' is not a scope"));
    }
  }

  /** Adds a violation if {@code value} is not a well-formed entity type. */
  public static void checkEntityType(String field, String value, List<FieldViolation> violations) {
    if (!EntityKey.isEntityType(value)) {
      violations.add(Errors.violation(field, "'" + value + "' is not an entity type"));
    }
  }

  private static void throwIfAny(List<FieldViolation> violations, ErrorReason reason) {
    if (!violations.isEmpty()) {
      throw new DeltaSyncException(Errors.invalidArgument(reason, violations));
    }
  }
}

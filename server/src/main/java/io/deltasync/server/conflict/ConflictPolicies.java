package io.deltasync.server.conflict;

import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import java.util.Map;

/**
 * Which policy resolves a delta's conflict: the one named on the delta, else the entity type's configured one,
 * else the server default. Operational transform needs edits to transform and must be enabled; otherwise the
 * next policy in that order decides (last-write-wins as the final fallback) and the result says so.
 */
public final class ConflictPolicies {
  private final ConflictPolicy defaultPolicy;
  private final Map<String, ConflictPolicy> byEntityType;
  private final boolean operationalTransformEnabled;

  /**
   * The choice and why.
   *
   * @param policy the policy that decides
   * @param explanation empty, or why it is not the one asked for
   */
  public record Choice(ConflictPolicy policy, String explanation) {}

  /** Creates the rules. */
  public ConflictPolicies(ConflictPolicy defaultPolicy, Map<String, ConflictPolicy> byEntityType,
      boolean operationalTransformEnabled) {
    this.defaultPolicy = defaultPolicy;
    this.byEntityType = Map.copyOf(byEntityType);
    this.operationalTransformEnabled = operationalTransformEnabled;
  }

  /** The policy for a delta. */
  public Choice choose(Delta delta) {
    ConflictPolicy requested = delta.getConflictPolicy() != ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED
        ? delta.getConflictPolicy()
        : byEntityType.getOrDefault(delta.getEntityType(), defaultPolicy);
    if (requested != ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM || usable(delta)) {
      return new Choice(requested, "");
    }
    String why = !operationalTransformEnabled
        ? "operational transform is disabled on this server (ENABLE_OPERATIONAL_TRANSFORM=false)"
        : "operational transform needs the delta's edits; this delta carries whole data";
    return fallback(delta, why);
  }

  /**
   * The policy that decides when operational transform was chosen but cannot merge the delta (for example the
   * history it needs is gone): the entity type's policy, else the default, never operational transform again.
   *
   * @param why why operational transform does not decide, for the result's explanation
   */
  public Choice fallback(Delta delta, String why) {
    ConflictPolicy fallback = byEntityType.getOrDefault(delta.getEntityType(), defaultPolicy);
    if (fallback == ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM) {
      fallback = defaultPolicy;
    }
    if (fallback == ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM) {
      fallback = ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS;
    }
    return new Choice(fallback, why + "; resolved with " + fallback.name() + " instead");
  }

  private boolean usable(Delta delta) {
    return operationalTransformEnabled && delta.getEditsCount() > 0;
  }
}

package io.deltasync.server.store;

import java.util.regex.Pattern;

/**
 * The identity of an entity.
 *
 * @param scope the partition it belongs to
 * @param entityType its kind
 * @param entityId its id within (scope, entity_type)
 */
public record EntityKey(String scope, String entityType, String entityId) {
  private static final Pattern ENTITY_TYPE = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,63}");
  private static final Pattern SCOPE = Pattern.compile("[A-Za-z0-9_.:/@-]{1,128}");

  /** Whether a value is a well-formed entity type: a letter, then up to 63 letters, digits or {@code _ . -}. */
  public static boolean isEntityType(String value) {
    return ENTITY_TYPE.matcher(value).matches();
  }

  /** Whether a value is a well-formed scope: 1–128 letters, digits or {@code _ . : / @ -}. */
  public static boolean isScope(String value) {
    return SCOPE.matcher(value).matches();
  }
}

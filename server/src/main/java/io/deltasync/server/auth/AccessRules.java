package io.deltasync.server.auth;

import com.nimbusds.jose.util.JSONObjectUtils;
import io.deltasync.server.store.ScopeSet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.ParseException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Roles (each a set of permissions) and sync rules (which scopes a credential may read and write, from its claims),
 * declared in configuration; docs/security.md has the format and examples. A rule's scope patterns are templates:
 * {@code {sub}}, {@code {iss}} and {@code {claims.path.to.claim}} are replaced by the credential's values (an array
 * claim gives one pattern per element); a pattern whose placeholder has no value, or a value that is not a plain
 * name (letters, digits, {@code _ . @ -}: no {@code *}, {@code /} or {@code :}, which could widen the grant), grants
 * nothing.
 *
 * @param roles each role's permissions
 * @param rules the sync rules, all applied (their grants add up)
 */
public record AccessRules(Map<String, Set<Permission>> roles, List<Rule> rules) {
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{([A-Za-z0-9_.-]+)}");
  private static final Pattern SAFE_VALUE = Pattern.compile("[A-Za-z0-9_.@-]{1,128}");

  /**
   * One sync rule.
   *
   * @param roles the roles it applies to (empty: every credential)
   * @param read the scope patterns it makes readable
   * @param write the scope patterns it makes writable
   */
  public record Rule(Set<String> roles, List<String> read, List<String> write) {
    /** Compact copy. */
    public Rule {
      roles = Set.copyOf(roles);
      read = List.copyOf(read);
      write = List.copyOf(write);
    }
  }

  /** Compact copy. */
  public AccessRules {
    roles = Map.copyOf(roles);
    rules = List.copyOf(rules);
  }

  /**
   * The rules used when none are configured: roles {@code reader}, {@code writer} and {@code admin}; every credential
   * reads and writes the scopes listed in its {@code scopes} claim; {@code admin} reads and writes every scope.
   */
  public static AccessRules defaults() {
    Map<String, Set<Permission>> roles = new LinkedHashMap<>();
    roles.put("reader", EnumSet.of(Permission.SYNC_READ, Permission.CONFLICTS_READ));
    roles.put("writer", EnumSet.of(Permission.SYNC_READ, Permission.SYNC_WRITE, Permission.CONFLICTS_READ,
        Permission.CONFLICTS_RESOLVE));
    roles.put("admin", EnumSet.allOf(Permission.class));
    return new AccessRules(roles, List.of(
        new Rule(Set.of(), List.of("{claims.scopes}"), List.of("{claims.scopes}")),
        new Rule(Set.of("admin"), List.of("*"), List.of("*"))));
  }

  /** Reads a rules file (JSON; see docs/security.md). */
  public static AccessRules load(Path file) throws IOException {
    try {
      return parse(JSONObjectUtils.parse(Files.readString(file)));
    } catch (ParseException | IllegalArgumentException | ClassCastException e) {
      throw new IOException(file + ": " + e.getMessage(), e);
    }
  }

  @SuppressWarnings("unchecked")
  static AccessRules parse(Map<String, Object> json) throws ParseException {
    Map<String, Set<Permission>> roles = new LinkedHashMap<>();
    Map<String, Object> roleJson = JSONObjectUtils.getJSONObject(json, "roles");
    if (roleJson == null) {
      throw new IllegalArgumentException("roles: missing (expected: an object of role -> permissions)");
    }
    for (var role : roleJson.entrySet()) {
      Set<Permission> permissions = EnumSet.noneOf(Permission.class);
      for (Object name : (List<Object>) role.getValue()) {
        if ("*".equals(name)) {
          permissions.addAll(EnumSet.allOf(Permission.class));
          continue;
        }
        permissions.add(Permission.byLabel(String.valueOf(name)).orElseThrow(() -> new IllegalArgumentException(
            "roles." + role.getKey() + ": '" + name + "' (expected: one of sync:read, sync:write, conflicts:read, "
                + "conflicts:resolve, ops:status, ops:metrics, ops:cleanup, ops:reflection, or *)")));
      }
      roles.put(role.getKey(), permissions);
    }
    List<Rule> rules = new ArrayList<>();
    List<Object> ruleJson = (List<Object>) json.getOrDefault("rules", List.of());
    for (int i = 0; i < ruleJson.size(); i++) {
      Map<String, Object> rule = (Map<String, Object>) ruleJson.get(i);
      List<String> read = strings(rule.get("read"));
      List<String> write = strings(rule.get("write"));
      for (String pattern : concat(read, write)) {
        String probe = PLACEHOLDER.matcher(pattern).replaceAll("x");
        if (!ScopeSet.isPattern(probe)) {
          throw new IllegalArgumentException("rules[" + i + "]: '" + pattern + "' (expected: a scope pattern such as "
              + "user:{sub}, org:{claims.org_id}/* or public)");
        }
      }
      rules.add(new Rule(Set.copyOf(strings(rule.get("roles"))), read, write));
    }
    return new AccessRules(roles, rules);
  }

  /** The permissions of a set of roles (unknown roles grant nothing). */
  public Set<Permission> permissions(Set<String> roleNames) {
    Set<Permission> permissions = EnumSet.noneOf(Permission.class);
    for (String role : roleNames) {
      permissions.addAll(roles.getOrDefault(role, Set.of()));
    }
    return permissions;
  }

  /**
   * The principal a verified credential stands for.
   *
   * @param claims the token's claims (an API key's {@code sub} only)
   * @param extraRead, extraWrite patterns granted directly (an API key's own), not templates
   */
  public Principal principal(Principal.Kind kind, String id, String issuer, Set<String> roleNames,
      Map<String, Object> claims, Optional<Instant> expiresAt, List<String> extraRead, List<String> extraWrite) {
    List<String> read = new ArrayList<>(extraRead);
    List<String> write = new ArrayList<>(extraWrite);
    for (Rule rule : rules) {
      if (!rule.roles().isEmpty() && rule.roles().stream().noneMatch(roleNames::contains)) {
        continue;
      }
      rule.read().forEach(p -> read.addAll(expand(p, id, issuer, claims)));
      rule.write().forEach(p -> write.addAll(expand(p, id, issuer, claims)));
    }
    return new Principal(kind, id, issuer, roleNames, permissions(roleNames), ScopeSet.of(read), ScopeSet.of(write),
        expiresAt);
  }

  /** A template's patterns for one credential: none when a placeholder has no safe value. */
  static List<String> expand(String template, String sub, String issuer, Map<String, Object> claims) {
    // A template that is one placeholder and nothing else (the default rule's "{claims.scopes}") takes any scope the
    // claim names, "user:alice" or "org:acme/site-1" included: around nothing, a ':' or '/' cannot reach into a
    // neighbouring namespace. A wildcard still never comes from a claim.
    if (PLACEHOLDER.matcher(template).matches()) {
      Matcher whole = PLACEHOLDER.matcher(template);
      whole.matches();
      return values(whole.group(1), sub, issuer, claims).stream()
          .filter(v -> !v.contains("*") && io.deltasync.server.store.EntityKey.isScope(v)).toList();
    }
    List<String> results = List.of("");
    Matcher m = PLACEHOLDER.matcher(template);
    int last = 0;
    while (m.find()) {
      String literal = template.substring(last, m.start());
      List<String> values = values(m.group(1), sub, issuer, claims);
      List<String> next = new ArrayList<>();
      for (String prefix : results) {
        for (String value : values) {
          if (SAFE_VALUE.matcher(value).matches()) {
            next.add(prefix + literal + value);
          }
        }
      }
      results = next;
      last = m.end();
    }
    String tail = template.substring(last);
    List<String> patterns = new ArrayList<>();
    for (String prefix : results) {
      String pattern = prefix + tail;
      if (ScopeSet.isPattern(pattern)) {
        patterns.add(pattern);
      }
    }
    return patterns;
  }

  private static List<String> values(String placeholder, String sub, String issuer, Map<String, Object> claims) {
    if (placeholder.equals("sub")) {
      return List.of(sub);
    }
    if (placeholder.equals("iss")) {
      return List.of(issuer);
    }
    if (!placeholder.startsWith("claims.")) {
      return List.of();
    }
    return flatten(claim(claims, placeholder.substring("claims.".length())));
  }

  /** A claim by dotted path ({@code realm_access.roles}); null when absent. */
  static Object claim(Map<String, Object> claims, String path) {
    Object at = claims;
    for (String part : path.split("\\.")) {
      if (!(at instanceof Map<?, ?> map)) {
        return null;
      }
      at = map.get(part);
    }
    return at;
  }

  /** A claim's values as strings: one for a string or number, each element of an array, none otherwise. */
  static List<String> flatten(Object value) {
    if (value instanceof String s) {
      return List.of(s);
    }
    if (value instanceof Number || value instanceof Boolean) {
      return List.of(String.valueOf(value));
    }
    if (value instanceof List<?> list) {
      Set<String> values = new LinkedHashSet<>();
      for (Object element : list) {
        if (element instanceof String || element instanceof Number) {
          values.add(String.valueOf(element));
        }
      }
      return List.copyOf(values);
    }
    return List.of();
  }

  @SuppressWarnings("unchecked")
  private static List<String> strings(Object value) {
    if (value == null) {
      return List.of();
    }
    return ((List<Object>) value).stream().map(String::valueOf).toList();
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }
}

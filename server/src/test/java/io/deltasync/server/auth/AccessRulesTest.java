package io.deltasync.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.util.JSONObjectUtils;
import io.deltasync.server.store.ScopeSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Sync rules: templates, wildcards, and claims that try to widen their grant. */
class AccessRulesTest {
  private static final AccessRules RULES = parse("""
      {"roles": {"member": ["sync:read", "sync:write"], "auditor": ["sync:read", "conflicts:read"]},
       "rules": [
         {"read": ["public"]},
         {"read": ["user:{sub}"], "write": ["user:{sub}"]},
         {"roles": ["member"], "read": ["org:{claims.org_id}/*"], "write": ["org:{claims.org_id}/*"]},
         {"roles": ["auditor"], "read": ["org:{claims.orgs}/*"]}
       ]}
      """);

  private static AccessRules parse(String json) {
    try {
      return AccessRules.parse(JSONObjectUtils.parse(json));
    } catch (java.text.ParseException e) {
      throw new AssertionError(e);
    }
  }

  private static Principal principal(String sub, Set<String> roles, Map<String, Object> claims) {
    return RULES.principal(Principal.Kind.TOKEN, sub, "iss", roles, claims, Optional.empty(), List.of(), List.of());
  }

  @Test
  void templatesExpandToTheCredentialsScopes() {
    Principal alice = principal("alice", Set.of("member"), Map.of("org_id", "acme"));

    assertThat(alice.readable().contains("public")).isTrue();
    assertThat(alice.readable().contains("user:alice")).isTrue();
    assertThat(alice.readable().contains("user:bob")).isFalse();
    assertThat(alice.readable().contains("org:acme/projects")).isTrue();
    assertThat(alice.readable().contains("org:acme2/projects")).isFalse();
    assertThat(alice.writable().contains("public")).isFalse();
    assertThat(alice.permissions()).containsExactlyInAnyOrder(Permission.SYNC_READ, Permission.SYNC_WRITE);
  }

  @Test
  void anArrayClaimGivesOnePatternPerElementAndRulesApplyByRole() {
    Principal auditor = principal("eve", Set.of("auditor"), Map.of("orgs", List.of("a", "b"), "org_id", "c"));

    assertThat(auditor.readable().contains("org:a/x")).isTrue();
    assertThat(auditor.readable().contains("org:b/x")).isTrue();
    assertThat(auditor.readable().contains("org:c/x")).as("the member rule is not the auditor's").isFalse();
  }

  @Test
  void claimValuesThatWouldWidenTheGrantGrantNothing() {
    for (Object value : List.of("*", "acme/*", "acme:x", "", List.of("*"), Map.of("a", "b"))) {
      Principal p = principal("mallory", Set.of("member"), Map.of("org_id", value));
      assertThat(p.readable().prefixes()).as("org_id = %s", value).noneMatch(prefix -> prefix.startsWith("org:"));
    }
    Principal star = principal("*", Set.of("member"), Map.of());
    assertThat(star.readable().all()).isFalse();
    assertThat(star.readable().exact()).containsExactly("public");
  }

  @Test
  void aWholeTemplateTakesAnyScopeTheClaimNamesButNeverAWildcard() {
    List<String> granted = AccessRules.expand("{claims.scopes}", "alice", "", Map.of("scopes",
        List.of("user:alice", "org:acme/site-1", "plain", "*", "org:*", "")));
    assertThat(granted).containsExactly("user:alice", "org:acme/site-1", "plain");
    // Inside a longer template the narrow rule stays: a ':' or '/' could reach into another namespace.
    assertThat(AccessRules.expand("org:{claims.org}/x", "alice", "", Map.of("org", "acme/y"))).isEmpty();
  }

  @Test
  void aMissingClaimGrantsNothing() {
    Principal p = principal("bob", Set.of("member"), Map.of());
    assertThat(p.readable()).isEqualTo(ScopeSet.of(List.of("public", "user:bob")));
  }

  @Test
  void badRulesAreRefusedWhenRead() {
    assertThatThrownBy(() -> parse("""
        {"roles": {"r": ["sync:everything"]}}
        """)).hasMessageContaining("sync:everything");
    assertThatThrownBy(() -> parse("""
        {"roles": {"r": ["sync:read"]}, "rules": [{"read": ["org:*/x"]}]}
        """)).hasMessageContaining("org:*/x");
  }
}

package io.deltasync.server.stream;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import io.deltasync.server.auth.Access;
import io.deltasync.server.auth.Audit;
import io.deltasync.server.auth.Principal;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.write.WriteService;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A push as a principal may make it: each delta to a scope the credential may not write is rejected on its own
 * (PERMISSION_DENIED naming {@code deltas[i].scope}) before the write path sees the batch, the others are applied
 * by {@link WriteService} as one batch, and the results are merged back in the order of the request.
 */
public final class ScopedPush {
  private static final Pattern DELTA_INDEX = Pattern.compile("(?<![A-Za-z0-9_])deltas\\[(\\d+)]");

  private ScopedPush() {}

  /**
   * Pushes {@code deltas} for {@code clientKey} (the client id as stored: {@link Principal#clientKey}).
   *
   * @param field how the request names its deltas in violations ("deltas", or "push.deltas" on the stream)
   */
  public static List<DeltaResult> push(WriteService writes, Principal principal, String clientKey,
      List<Delta> deltas, String field) {
    List<DeltaResult> results = writeAllowed(writes, principal, clientKey, deltas, field);
    return principal.readable().all() ? results : readableOnly(principal, deltas, results);
  }

  /**
   * A credential may write a scope it may not read (an ingest key): its results must not show what is there. For a
   * delta in such a scope the result keeps the entity's identity, version and etag (what the client needs to
   * write again) but not its documents, who wrote it, or the server's edits a merge rebased it over.
   */
  private static List<DeltaResult> readableOnly(Principal principal, List<Delta> deltas, List<DeltaResult> results) {
    List<DeltaResult> shown = new ArrayList<>(results.size());
    for (int i = 0; i < results.size(); i++) {
      DeltaResult result = results.get(i);
      String scope = deltas.get(i).getScope();
      // Deltas refused here for their scope are about the caller's own request: nothing stored to withhold.
      if (principal.readable().contains(scope) || !principal.writable().contains(scope)) {
        shown.add(result);
        continue;
      }
      DeltaResult.Builder redacted = result.toBuilder().clearRebaseEdits();
      if (result.hasEntity()) {
        var entity = result.getEntity();
        redacted.setEntity(io.deltasync.v1.Entity.newBuilder().setScope(entity.getScope())
            .setEntityType(entity.getEntityType()).setEntityId(entity.getEntityId())
            .setRowVersion(entity.getRowVersion()).setEtag(entity.getEtag()).setIsDeleted(entity.getIsDeleted())
            .setSyncStatus(entity.getSyncStatus()));
      }
      if (result.hasResolution()) {
        // The explanation may name who wrote the scope's entities (merges, fallbacks): withheld with the rest.
        redacted.setResolution(result.getResolution().toBuilder().clearServerFields()
            .setExplanation("details withheld: this credential may not read scope '"
                + deltas.get(i).getScope() + "'"));
      }
      if (result.hasError()) {
        redacted.setError(withheld(result.getError(), deltas.get(i).getScope()));
      }
      shown.add(redacted.build());
    }
    return shown;
  }

  /**
   * An error about a delta in a scope the caller may not read, without what its text may tell of the stored
   * document (an edit refused for running past the end of a text, a key not found): the code, the ErrorInfo and the
   * names of the fields stay, the descriptions and the message go.
   */
  private static com.google.rpc.Status withheld(com.google.rpc.Status error, String scope) {
    com.google.rpc.Status.Builder kept = error.toBuilder().clearDetails()
        .setMessage("the delta was not applied; details withheld: this credential may not read scope '" + scope
            + "'");
    for (Any detail : error.getDetailsList()) {
      if (detail.is(BadRequest.class)) {
        try {
          BadRequest.Builder bad = detail.unpack(BadRequest.class).toBuilder();
          for (int v = 0; v < bad.getFieldViolationsCount(); v++) {
            bad.setFieldViolations(v, bad.getFieldViolations(v).toBuilder().setDescription("withheld"));
          }
          kept.addDetails(Any.pack(bad.build()));
        } catch (InvalidProtocolBufferException e) {
          // an unreadable detail is dropped
        }
      } else if (detail.is(com.google.rpc.ErrorInfo.class)) {
        kept.addDetails(detail);
      }
    }
    return kept.build();
  }

  private static List<DeltaResult> writeAllowed(WriteService writes, Principal principal, String clientKey,
      List<Delta> deltas, String field) {
    if (principal.writable().all()) {
      return writes.push(clientKey, deltas);
    }
    DeltaResult[] results = new DeltaResult[deltas.size()];
    List<Delta> allowed = new ArrayList<>();
    List<Integer> positions = new ArrayList<>();
    for (int i = 0; i < deltas.size(); i++) {
      Delta delta = deltas.get(i);
      // A malformed scope is left to the write path, which names it as invalid.
      if (EntityKey.isScope(delta.getScope()) && !principal.writable().contains(delta.getScope())) {
        Audit.denied(principal, clientKey, "write", delta.getScope());
        results[i] = DeltaResult.newBuilder().setDeltaId(delta.getDeltaId())
            .setStatus(DeltaStatus.DELTA_STATUS_REJECTED)
            .setError(Access.scopeDenied(field + "[" + i + "].scope", delta.getScope(), "write"))
            .build();
      } else {
        allowed.add(delta);
        positions.add(i);
      }
    }
    if (!allowed.isEmpty()) {
      List<DeltaResult> applied = writes.push(clientKey, allowed);
      for (int j = 0; j < applied.size(); j++) {
        results[positions.get(j)] = renumbered(applied.get(j), positions);
      }
    }
    return List.of(results);
  }

  /** The write path numbered the deltas of the subset it saw; errors must name them as the request does. */
  private static DeltaResult renumbered(DeltaResult result, List<Integer> positions) {
    if (!result.hasError()) {
      return result;
    }
    com.google.rpc.Status.Builder error = result.getError().toBuilder()
        .setMessage(renumber(result.getError().getMessage(), positions));
    for (int d = 0; d < error.getDetailsCount(); d++) {
      Any detail = error.getDetails(d);
      if (detail.is(BadRequest.class)) {
        try {
          BadRequest.Builder bad = detail.unpack(BadRequest.class).toBuilder();
          for (int v = 0; v < bad.getFieldViolationsCount(); v++) {
            var violation = bad.getFieldViolations(v);
            bad.setFieldViolations(v, violation.toBuilder().setField(renumber(violation.getField(), positions))
                .setDescription(renumber(violation.getDescription(), positions)));
          }
          error.setDetails(d, Any.pack(bad.build()));
        } catch (InvalidProtocolBufferException e) {
          // leave a detail we cannot read as it is
        }
      }
    }
    return result.toBuilder().setError(error).build();
  }

  private static String renumber(String text, List<Integer> positions) {
    Matcher m = DELTA_INDEX.matcher(text);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      int j = Integer.parseInt(m.group(1));
      String replacement = j < positions.size() ? "deltas[" + positions.get(j) + "]" : m.group();
      m.appendReplacement(out, Matcher.quoteReplacement(replacement));
    }
    m.appendTail(out);
    return out.toString();
  }
}

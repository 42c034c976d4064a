package io.deltasync.server.auth;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.v1.ErrorReason;
import java.util.Map;

/** The PERMISSION_DENIED answers, in one place: they name the permission or the scope, and the field. */
public final class Access {
  private Access() {}

  /** PERMISSION_DENIED naming a missing permission. */
  public static com.google.rpc.Status missingPermission(Permission permission) {
    return Errors.status(Code.PERMISSION_DENIED, ErrorReason.ERROR_REASON_PERMISSION_DENIED,
        "permission: the credential lacks '" + permission.label() + "'", Map.of("permission", permission.label()));
  }

  /** PERMISSION_DENIED naming a scope the credential may not use, and the request field that named it. */
  public static com.google.rpc.Status scopeDenied(String field, String scope, String what) {
    String message = field + ": the credential may not " + what + " scope '" + scope + "'";
    return Errors.status(Code.PERMISSION_DENIED, ErrorReason.ERROR_REASON_PERMISSION_DENIED, message,
        Map.of("scope", scope)).toBuilder()
        .addDetails(Any.pack(BadRequest.newBuilder().addFieldViolations(Errors.violation(field,
            "the credential may not " + what + " scope '" + scope + "'")).build()))
        .build();
  }

  /** Throws PERMISSION_DENIED unless the principal has the permission. */
  public static void require(Principal principal, Permission permission) {
    if (!principal.has(permission)) {
      Audit.denied(principal, "", permission.label(), "");
      throw new DeltaSyncException(missingPermission(permission));
    }
  }

  /** Throws PERMISSION_DENIED unless the principal may read the scope named by {@code field}. */
  public static void requireReadable(Principal principal, String field, String scope) {
    if (!principal.readable().contains(scope)) {
      Audit.denied(principal, "", "read", scope);
      throw new DeltaSyncException(scopeDenied(field, scope, "read"));
    }
  }

  /** Throws PERMISSION_DENIED unless the principal may write the scope named by {@code field}. */
  public static void requireWritable(Principal principal, String field, String scope) {
    if (!principal.writable().contains(scope)) {
      Audit.denied(principal, "", "write", scope);
      throw new DeltaSyncException(scopeDenied(field, scope, "write"));
    }
  }
}

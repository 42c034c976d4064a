package io.deltasync.server.conflict;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.ResolutionOutcome;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Decides what a policy does with a delta that missed its compare-and-set. Pure: no I/O; the write path reads
 * what is needed, asks, and carries the decision out with a compare-and-set on the version it read (deciding
 * again if that misses too).
 *
 * <p>The decision table (docs/conflicts.md), by what the delta does and what it meets:
 * <pre>
 *                              | LAST_WRITE_WINS          | CLIENT_WINS | SERVER_WINS | MANUAL
 *  update over newer update    | field by field, later    | client data | keep server | queue
 *  create over live entity     |   write per field wins   |             |             |
 *  update or create over       | later of update and      | create      | keep        | queue
 *    tombstone                 |   delete wins            |   again     |   deleted   |
 *  delete over newer update    | later of delete and      | delete      | keep server | queue
 *                              |   last update wins       |             |             |
 *  delete over tombstone       | nothing to do: applied, no change (every policy)
 * </pre>
 */
public final class ConflictResolver {
  private ConflictResolver() {}

  /** What to do. */
  public sealed interface Decision {}

  /**
   * Write this document (over the live entity, or creating it again over its tombstone).
   *
   * @param data the document to write
   * @param outcome which side won
   * @param clientFields fields whose value was taken from the client
   * @param serverFields fields the client changed whose server value was kept (not those only the server changed)
   */
  public record WriteData(Struct data, ResolutionOutcome outcome, List<String> clientFields,
      List<String> serverFields) implements Decision {}

  /** Delete the live entity. */
  public record WriteDelete() implements Decision {}

  /** Keep the server's state; the delta is not applied. */
  public record KeepServer() implements Decision {}

  /** Queue the conflict for manual resolution. */
  public record Queue() implements Decision {}

  /**
   * What the resolver looks at.
   *
   * @param operation what the delta does
   * @param clientData the delta's document (empty for deletes)
   * @param current the entity as it is now
   * @param baseData the document at the delta's base version, if the change log still has it (an empty document
   *     for creates: every field counts as the client's change)
   * @param fieldClocks the clock of each top-level field's last change
   * @param entityClock the clock of the entity's last write (for tombstones: the delete's)
   * @param incoming the delta's clock
   */
  public record Input(Operation operation, Struct clientData, Entity current, Optional<Struct> baseData,
      Map<String, WriteClock> fieldClocks, WriteClock entityClock, WriteClock incoming) {}

  /** The decision of {@code policy} (operational transform is dispatched by the caller, before this). */
  public static Decision decide(ConflictPolicy policy, Input input) {
    return switch (policy) {
      case CONFLICT_POLICY_SERVER_WINS -> new KeepServer();
      case CONFLICT_POLICY_MANUAL -> new Queue();
      case CONFLICT_POLICY_CLIENT_WINS -> clientWins(input);
      case CONFLICT_POLICY_LAST_WRITE_WINS, CONFLICT_POLICY_OPERATIONAL_TRANSFORM, CONFLICT_POLICY_UNSPECIFIED,
          UNRECOGNIZED -> lastWriteWins(input);
    };
  }

  private static Decision clientWins(Input input) {
    if (input.operation() == Operation.OPERATION_DELETE) {
      return new WriteDelete();
    }
    return new WriteData(input.clientData(), ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON,
        List.copyOf(input.clientData().getFieldsMap().keySet()), List.of());
  }

  private static Decision lastWriteWins(Input input) {
    boolean later = input.incoming().beats(lastWrite(input));
    if (input.operation() == Operation.OPERATION_DELETE) {
      return later ? new WriteDelete() : new KeepServer();
    }
    if (input.current().getIsDeleted() || input.baseData().isEmpty()) {
      // Against a tombstone, or without the base to tell which fields the client changed: whole documents.
      return later ? clientWins(input) : new KeepServer();
    }
    return mergeFields(input);
  }

  /**
   * The clock a whole write (a delete, or a document without its base) must beat. For a tombstone, the delete's.
   * For a live entity, the latest of the entity clock and every field clock: a field merge stamps the entity with
   * the merged delta's clock, which may be older than an edit it kept (the clock moved backwards), and a delete
   * later than that merge but earlier than the kept edit must not destroy the edit.
   */
  private static WriteClock lastWrite(Input input) {
    WriteClock last = input.entityClock();
    if (!input.current().getIsDeleted()) {
      for (WriteClock field : input.fieldClocks().values()) {
        if (field.beats(last)) {
          last = field;
        }
      }
    }
    return last;
  }

  /**
   * Field-level last-write-wins over top-level fields: a field only the client changed takes the client's value,
   * one only the server changed keeps the server's, and one both changed goes to the later write of that field.
   */
  private static Decision mergeFields(Input input) {
    Map<String, Value> base = input.baseData().orElseThrow().getFieldsMap();
    Map<String, Value> client = input.clientData().getFieldsMap();
    Map<String, Value> server = input.current().getData().getFieldsMap();
    Struct.Builder merged = input.current().getData().toBuilder();
    List<String> clientFields = new ArrayList<>();
    List<String> serverFields = new ArrayList<>();
    Set<String> keys = new LinkedHashSet<>(base.keySet());
    keys.addAll(client.keySet());
    for (String key : keys.stream().sorted().toList()) {
      Optional<Value> before = Optional.ofNullable(base.get(key));
      Optional<Value> clientValue = Optional.ofNullable(client.get(key));
      if (before.equals(clientValue)) {
        continue;  // the client did not touch this field
      }
      Optional<Value> serverValue = Optional.ofNullable(server.get(key));
      boolean serverTouched = !before.equals(serverValue);
      WriteClock serverClock = input.fieldClocks().getOrDefault(key, input.entityClock());
      if (serverTouched && !serverValue.equals(clientValue) && !input.incoming().beats(serverClock)) {
        serverFields.add(key);
        continue;
      }
      clientFields.add(key);
      if (clientValue.isPresent()) {
        merged.putFields(key, clientValue.get());
      } else {
        merged.removeFields(key);
      }
    }
    if (clientFields.isEmpty()) {
      return new KeepServer();
    }
    ResolutionOutcome outcome = serverFields.isEmpty() && merged.build().equals(input.clientData())
        ? ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON
        : ResolutionOutcome.RESOLUTION_OUTCOME_MERGED;
    return new WriteData(merged.build(), outcome, clientFields, serverFields);
  }
}

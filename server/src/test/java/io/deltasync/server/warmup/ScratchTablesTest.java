package io.deltasync.server.warmup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Triggers are recreated on the shadow, whether PostgreSQL printed the table qualified or not. */
class ScratchTablesTest {
  @Test
  void aTriggerMovesToTheShadowTable() {
    assertThat(ScratchTables.onShadow("CREATE TRIGGER entity_stamp BEFORE INSERT OR UPDATE ON public.entity FOR EACH "
        + "ROW EXECUTE FUNCTION deltasync_entity_stamp()"))
        .isEqualTo("CREATE TRIGGER entity_stamp BEFORE INSERT OR UPDATE ON pg_temp.\"entity\" FOR EACH ROW EXECUTE "
            + "FUNCTION deltasync_entity_stamp()");
    assertThat(ScratchTables.onShadow("CREATE TRIGGER t AFTER TRUNCATE ON change_log FOR EACH STATEMENT EXECUTE "
        + "FUNCTION f()"))
        .isEqualTo("CREATE TRIGGER t AFTER TRUNCATE ON pg_temp.\"change_log\" FOR EACH STATEMENT EXECUTE FUNCTION f()");
    assertThat(ScratchTables.onShadow("CREATE TRIGGER t AFTER INSERT ON public.\"change_log\" REFERENCING NEW TABLE "
        + "AS added FOR EACH STATEMENT EXECUTE FUNCTION f()"))
        .startsWith("CREATE TRIGGER t AFTER INSERT ON pg_temp.\"change_log\" REFERENCING NEW TABLE AS added");
  }

  @Test
  void aDefinitionWithoutATableIsRefused() {
    assertThatThrownBy(() -> ScratchTables.onShadow("CREATE TRIGGER t"))
        .isInstanceOf(IllegalStateException.class);
  }
}

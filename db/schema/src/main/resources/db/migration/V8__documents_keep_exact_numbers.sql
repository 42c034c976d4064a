-- deltasync schema v8: documents keep their numbers as written.
--
-- Documents travel as google.protobuf.Struct, whose numbers are doubles: an integer beyond 2^53 written by plain SQL
-- (9007199254740993) reaches a client as 9007199254740992, and the client's next whole-document write, or a
-- server-side merge computed on doubles, would store the rounded value in a field nobody touched (and stamp that
-- field's last-write-wins clock with the writer's). The server therefore writes documents through
-- deltasync_keep_exact(stored, written): wherever the written value equals the stored one as a double (every value
-- the writer did not change, since it only ever saw the double), the stored value is kept byte for byte; only what
-- really changed is taken from the written document. Plain-SQL writers do not go through it: they write what they
-- mean, exactly.
CREATE OR REPLACE FUNCTION deltasync_keep_exact(stored jsonb, written jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
    result jsonb;
    magnitude numeric;
BEGIN
    IF stored IS NULL OR written IS NULL THEN
        RETURN written;
    END IF;
    IF stored = written THEN
        RETURN stored;  -- jsonb equality compares numbers by value: 1 and 1.0 are equal, and the stored form stays
    END IF;
    CASE jsonb_typeof(written)
        WHEN 'number' THEN
            IF jsonb_typeof(stored) <> 'number' THEN
                RETURN written;
            END IF;
            magnitude := abs(stored::numeric);
            -- Outside the double range the cast to float8 fails, and no double can equal such a number anyway.
            IF magnitude = 0 OR (magnitude < 1e308 AND magnitude > 1e-307) THEN
                IF stored::float8 = written::float8 THEN
                    RETURN stored;
                END IF;
            END IF;
            RETURN written;
        WHEN 'object' THEN
            IF jsonb_typeof(stored) <> 'object' THEN
                RETURN written;
            END IF;
            SELECT coalesce(jsonb_object_agg(w.key,
                       CASE WHEN stored -> w.key IS NULL THEN w.value
                            WHEN stored -> w.key = w.value THEN stored -> w.key
                            WHEN jsonb_typeof(w.value) IN ('number', 'object', 'array')
                                THEN deltasync_keep_exact(stored -> w.key, w.value)
                            ELSE w.value END), '{}'::jsonb)
            INTO result
            FROM jsonb_each(written) w;
            RETURN result;
        WHEN 'array' THEN
            -- Element by element only while the lengths agree: an insert or removal shifts positions, and then the
            -- written array is taken as it is.
            IF jsonb_typeof(stored) <> 'array' OR jsonb_array_length(stored) <> jsonb_array_length(written) THEN
                RETURN written;
            END IF;
            SELECT coalesce(jsonb_agg(deltasync_keep_exact(stored -> (w.i - 1)::int, w.value) ORDER BY w.i),
                            '[]'::jsonb)
            INTO result
            FROM jsonb_array_elements(written) WITH ORDINALITY AS w(value, i);
            RETURN result;
        ELSE
            RETURN written;
    END CASE;
END
$$;

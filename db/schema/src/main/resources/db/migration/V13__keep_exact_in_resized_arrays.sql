-- deltasync schema v13: exact numbers survive in arrays whose length a write changes.
--
-- V8's deltasync_keep_exact compared arrays element by element only while their lengths agreed; an operational-
-- transform insert or remove (or a client adding one element to a list) shifts positions, and the whole written
-- array was taken, so an integer beyond 2^53 in an element nobody touched was rounded. Now the elements before and
-- after the change are aligned from both ends (the longest common prefix and suffix, each element compared the way
-- V8 compares values: equal as a double at every depth), those keep their stored form, and only the middle is taken
-- as written. Same as V8 otherwise.
CREATE OR REPLACE FUNCTION deltasync_keep_exact(stored jsonb, written jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
    result jsonb;
    magnitude numeric;
    stored_length int;
    written_length int;
    prefix int := 0;
    suffix int := 0;
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
            IF jsonb_typeof(stored) <> 'array' THEN
                RETURN written;
            END IF;
            stored_length := jsonb_array_length(stored);
            written_length := jsonb_array_length(written);
            IF stored_length = written_length THEN
                SELECT coalesce(jsonb_agg(deltasync_keep_exact(stored -> (w.i - 1)::int, w.value) ORDER BY w.i),
                                '[]'::jsonb)
                INTO result
                FROM jsonb_array_elements(written) WITH ORDINALITY AS w(value, i);
                RETURN result;
            END IF;
            -- Resized: an element "is the same" when keeping the stored one changes nothing a double can tell.
            WHILE prefix < least(stored_length, written_length)
                AND deltasync_keep_exact(stored -> prefix, written -> prefix) = stored -> prefix LOOP
                prefix := prefix + 1;
            END LOOP;
            WHILE suffix < least(stored_length, written_length) - prefix
                AND deltasync_keep_exact(stored -> (stored_length - 1 - suffix), written -> (written_length - 1 - suffix))
                    = stored -> (stored_length - 1 - suffix) LOOP
                suffix := suffix + 1;
            END LOOP;
            SELECT coalesce(jsonb_agg(CASE WHEN w.i <= prefix THEN stored -> (w.i - 1)::int
                                           WHEN w.i > written_length - suffix
                                               THEN stored -> (stored_length - (written_length - w.i) - 1)::int
                                           ELSE w.value END ORDER BY w.i), '[]'::jsonb)
            INTO result
            FROM jsonb_array_elements(written) WITH ORDINALITY AS w(value, i);
            RETURN result;
        ELSE
            RETURN written;
    END CASE;
END
$$;

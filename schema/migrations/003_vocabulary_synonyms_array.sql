-- Vocabulary synonyms become a native varchar[] (they were a JSON value: often
-- the string "null", a JSON-encoded list in a string, or a list).
-- JSON null, "null", [] and "[]" all mean SQL NULL.
-- Backups: converter v2 → v3 (KGFormat `SchemaConverters`) normalises older files.
-- (ALTER COLUMN … USING cannot hold subqueries, hence a new column.)

ALTER TABLE kg.vocabulary ADD COLUMN synonyms_list varchar[];

UPDATE kg.vocabulary SET synonyms_list =
    CASE
        WHEN synonyms IS NULL OR jsonb_typeof(synonyms) = 'null' THEN NULL
        WHEN jsonb_typeof(synonyms) = 'array' THEN
            nullif(ARRAY(SELECT jsonb_array_elements_text(synonyms))::varchar[], '{}')
        WHEN jsonb_typeof(synonyms) = 'string' AND btrim(synonyms #>> '{}') IN ('', 'null', '[]', 'None') THEN NULL
        WHEN jsonb_typeof(synonyms) = 'string' AND left(btrim(synonyms #>> '{}'), 1) = '[' THEN
            nullif(ARRAY(SELECT jsonb_array_elements_text((synonyms #>> '{}')::jsonb))::varchar[], '{}')
        ELSE ARRAY[synonyms #>> '{}']::varchar[]
    END;

ALTER TABLE kg.vocabulary DROP COLUMN synonyms;
ALTER TABLE kg.vocabulary RENAME COLUMN synonyms_list TO synonyms;

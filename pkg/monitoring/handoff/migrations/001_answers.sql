-- Equality monitoring answers (special category data): one row per
-- application that answered anything; NULL is not answered. Written by the
-- applications service's role with INSERT alone (granted at the equality
-- service's start); read only by the equality service's role.
CREATE TABLE answers (
    application_id uuid PRIMARY KEY,
    age_band text,
    sex text,
    gender_identity text,
    ethnic_group text,
    disability text,
    religion_or_belief text,
    sexual_orientation text,
    caring_responsibilities text,
    justice_experience text,
    deposited_at timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----

DROP TABLE answers;

//! docs/scaling.md: every table that holds patient data is keyed by patient, so a
//! distributed engine can spread the schema by patient. These tests read the embedded
//! migrations (the same `MIGRATIONS` the store runs, so a new migration is covered
//! without touching this file) and check, for each dialect, that every table with a
//! `patient_id` column has it first in its primary key or first in an index, and that
//! every table without one is listed below with the reason.
//!
//! The parser is deliberately small: a tokenizer (comments, string literals and
//! dollar-quoted bodies are skipped), then CREATE TABLE, CREATE [UNIQUE] INDEX, DROP
//! INDEX, DROP TABLE and ALTER TABLE ... ADD COLUMN. Any other ALTER TABLE, or a
//! statement about a table or index it does not know, stops the test: the checker is to
//! be taught the new form, never to misread it silently. A UNIQUE constraint counts as
//! an index (both databases build one for it).

use super::MIGRATIONS;
use std::collections::BTreeMap;

const PATIENT_ID: &str = "patient_id";

/// Tables whose own key is the patient id under another name: (table, column, reason).
const PATIENT_KEY_ELSEWHERE: &[(&str, &str, &str)] =
    &[("patients", "id", "a patient's own row: its id is the patient id (Citus distributes it by id)")];

/// Tables with `patient_id` that break the rule on purpose: (table, reason). Listed in
/// docs/scaling.md under "Known exceptions"; an entry that no longer breaks the rule fails.
const KNOWN_EXCEPTIONS: &[(&str, &str)] = &[
    (
        "chart_views",
        "primary key (user_id, patient_id) and no index: every look-up names both the person and the \
         patient (mark a chart seen, the inbox's unread counts), so the person leads; patient_id is in \
         the key, which is all a distribution by patient_id needs",
    ),
    (
        "patient_name_grams",
        "primary key (owner_org_id, gram, patient_id) and no index: the name search's derived index, \
         looked up by organization and gram, a patient's rows by their full key; patient_id is in the \
         key, which is all a distribution by patient_id needs",
    ),
];

/// Patient data without a `patient_id` column: (table, reason). All but `mail_outbox`
/// hang off a patient-keyed row by that row's own id. Listed in docs/scaling.md under
/// "Known exceptions".
const PATIENT_DATA_WITHOUT_PATIENT_ID: &[(&str, &str)] = &[
    ("family_invitation_revocations", "keyed by invitation_id; the patient is on family_invitations"),
    ("family_account_ends", "keyed by account_id; the patient is on family_accounts"),
    ("family_sessions", "a family account's sessions (deleted at sign-out); the patient is on family_accounts"),
    ("survey_revocations", "keyed by invitation_id; the patient, if any, is on survey_invitations"),
    (
        "survey_responses",
        "a family's answers about a patient (or a staff survey's), keyed by invitation_id; the patient, if \
         any, is on survey_invitations",
    ),
    ("mail_outbox", "per person, no clinical content, but a link may name a chart (/patients/<id>)"),
    (
        "fhir_exports",
        "a person's bulk export job; its files (in the object store) hold many patients, which the audit chain names",
    ),
];

/// Tables that hold no patient data: (table, reason). Reference or per-person tables.
const NOT_PATIENT_DATA: &[(&str, &str)] = &[
    ("organizations", "the directory of organizations"),
    ("users", "staff accounts"),
    ("memberships", "staff in organizations"),
    ("api_tokens", "staff API tokens"),
    ("sessions", "staff sessions"),
    ("signin_failures", "sign-in throttling by key"),
    ("audit_head", "the head of the audit chain, one row"),
    ("totp_factors", "a person's second factor"),
    ("recovery_codes", "a person's second factor"),
    ("passkeys", "a person's second factor"),
    ("instruments", "questionnaire definitions"),
    ("programme_activities", "the region's programme: sessions and meetings"),
    ("programme_attendance", "attendance counts by profession and organization"),
    ("programme_activity_marks", "programme activities recorded in error"),
    ("action_plan_versions", "the region's action plans"),
    ("notification_prefs", "what each person wants by e-mail"),
];

const RULES: Rules<'static> = Rules {
    patient_key_elsewhere: PATIENT_KEY_ELSEWHERE,
    known_exceptions: KNOWN_EXCEPTIONS,
    patient_data_without_patient_id: PATIENT_DATA_WITHOUT_PATIENT_ID,
    not_patient_data: NOT_PATIENT_DATA,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A word or identifier, lower-cased; a quoted identifier without its quotes.
    Word(String),
    /// A string literal or a dollar-quoted body: never part of the schema.
    Str,
    Punct(char),
}

fn tokenize(sql: &str) -> Vec<Tok> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let next = b.get(i + 1).copied();
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && next == Some(b'-') {
            i = sql[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if c == b'/' && next == Some(b'*') {
            i = i + 2 + sql[i + 2..].find("*/").expect("unterminated /* comment in a migration") + 2;
        } else if c == b'\'' {
            i += 1;
            loop {
                match (b.get(i), b.get(i + 1)) {
                    (Some(b'\''), Some(b'\'')) => i += 2,
                    (Some(b'\''), _) => break,
                    (Some(_), _) => i += 1,
                    (None, _) => panic!("unterminated string literal in a migration"),
                }
            }
            i += 1;
            out.push(Tok::Str);
        } else if c == b'"' {
            let end = i + 1 + sql[i + 1..].find('"').expect("unterminated quoted identifier in a migration");
            out.push(Tok::Word(sql[i + 1..end].to_lowercase()));
            i = end + 1;
        } else if c == b'$' {
            // $tag$ ... $tag$ (a function body), or a $1 parameter.
            let tag_end = i + 1 + b[i + 1..].iter().take_while(|x| x.is_ascii_alphanumeric() || **x == b'_').count();
            if b.get(tag_end) == Some(&b'$') && !next.is_some_and(|x| x.is_ascii_digit()) {
                let tag = &sql[i..=tag_end];
                let body = tag_end + 1;
                i = body + sql[body..].find(tag).expect("unterminated dollar-quoted body in a migration") + tag.len();
                out.push(Tok::Str);
            } else {
                out.push(Tok::Word(sql[i..tag_end].to_string()));
                i = tag_end;
            }
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            let end = i + b[i..].iter().take_while(|x| x.is_ascii_alphanumeric() || **x == b'_').count();
            out.push(Tok::Word(sql[i..end].to_ascii_lowercase()));
            i = end;
        } else {
            let ch = sql[i..].chars().next().unwrap_or_default();
            out.push(Tok::Punct(ch));
            i += ch.len_utf8();
        }
    }
    out
}

#[derive(Debug, Default)]
struct Table {
    columns: Vec<String>,
    primary_key: Vec<String>,
}

#[derive(Debug)]
struct Index {
    name: String,
    table: String,
    /// The indexed columns in order; an expression reads as "<expression>".
    columns: Vec<String>,
}

/// The tables and indexes the migrations leave behind.
#[derive(Debug, Default)]
struct Schema {
    tables: BTreeMap<String, Table>,
    indexes: Vec<Index>,
}

struct Cursor<'a> {
    toks: &'a [Tok],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    /// Consume the words `ws` if they come next, all of them.
    fn eat(&mut self, ws: &[&str]) -> bool {
        let next = self.toks.get(self.at..self.at + ws.len());
        let hit = next.is_some_and(|n| n.iter().zip(ws).all(|(t, w)| matches!(t, Tok::Word(x) if x == w)));
        if hit {
            self.at += ws.len();
        }
        hit
    }

    fn word(&mut self) -> String {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.at += 1;
                w
            }
            other => panic!("expected a name, found {other:?} in {:?}", self.toks),
        }
    }

    /// A parenthesized list: the tokens of each top-level, comma-separated item.
    fn group(&mut self) -> Vec<&'a [Tok]> {
        assert_eq!(self.peek(), Some(&Tok::Punct('(')), "expected ( in {:?}", self.toks);
        self.at += 1;
        let (mut items, mut start, mut depth) = (Vec::new(), self.at, 0);
        while let Some(t) = self.peek() {
            match t {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') if depth > 0 => depth -= 1,
                Tok::Punct(')') => {
                    items.push(&self.toks[start..self.at]);
                    self.at += 1;
                    return items;
                }
                Tok::Punct(',') if depth == 0 => {
                    items.push(&self.toks[start..self.at]);
                    start = self.at + 1;
                }
                _ => {}
            }
            self.at += 1;
        }
        panic!("unbalanced parentheses in {:?}", self.toks)
    }
}

/// The column an item of a column list names, or "<expression>".
fn list_column(item: &[Tok]) -> String {
    match item {
        [Tok::Word(w), rest @ ..] if rest.first() != Some(&Tok::Punct('(')) => w.clone(),
        _ => "<expression>".to_string(),
    }
}

fn column_list(c: &mut Cursor<'_>) -> Vec<String> {
    c.group().into_iter().map(list_column).collect()
}

fn has_words(item: &[Tok], ws: &[&str]) -> bool {
    item.windows(ws.len()).any(|win| win.iter().zip(ws).all(|(t, w)| matches!(t, Tok::Word(x) if x == w)))
}

impl Schema {
    /// Apply one migration file.
    fn apply(&mut self, sql: &str) {
        for stmt in tokenize(sql).split(|t| *t == Tok::Punct(';')) {
            self.statement(stmt);
        }
    }

    fn statement(&mut self, stmt: &[Tok]) {
        let mut c = Cursor { toks: stmt, at: 0 };
        if c.eat(&["create", "table"]) {
            let if_not_exists = c.eat(&["if", "not", "exists"]);
            let name = c.word();
            if self.tables.contains_key(&name) {
                assert!(if_not_exists, "CREATE TABLE {name}: the table exists already");
                return;
            }
            self.create_table(name, &mut c);
        } else if c.eat(&["create", "unique", "index"]) || c.eat(&["create", "index"]) {
            c.eat(&["if", "not", "exists"]);
            let name = c.word();
            assert!(c.eat(&["on"]), "CREATE INDEX {name}: expected ON");
            let table = c.word();
            if c.eat(&["using"]) {
                c.word();
            }
            assert!(self.tables.contains_key(&table), "CREATE INDEX {name} ON {table}: no such table");
            let columns = column_list(&mut c);
            self.indexes.push(Index { name, table, columns });
        } else if c.eat(&["drop", "index"]) {
            let if_exists = c.eat(&["if", "exists"]);
            let name = c.word();
            let before = self.indexes.len();
            self.indexes.retain(|ix| ix.name != name);
            assert!(if_exists || self.indexes.len() < before, "DROP INDEX {name}: no such index");
        } else if c.eat(&["drop", "table"]) {
            let if_exists = c.eat(&["if", "exists"]);
            let name = c.word();
            let existed = self.tables.remove(&name).is_some();
            assert!(if_exists || existed, "DROP TABLE {name}: no such table");
            self.indexes.retain(|ix| ix.table != name);
        } else if c.eat(&["alter", "table"]) {
            c.eat(&["if", "exists"]);
            let name = c.word();
            let add = c.eat(&["add", "column"]) || c.eat(&["add"]);
            let constraint = ["constraint", "primary", "unique", "foreign", "check"]
                .iter()
                .any(|w| matches!(c.peek(), Some(Tok::Word(x)) if x == w));
            assert!(
                add && !constraint,
                "schema_rules understands only ALTER TABLE ... ADD COLUMN; teach it {stmt:?} (docs/scaling.md)"
            );
            c.eat(&["if", "not", "exists"]);
            let column = c.word();
            let table = self.tables.get_mut(&name).unwrap_or_else(|| panic!("ALTER TABLE {name}: no such table"));
            table.columns.push(column);
        }
        // Anything else (triggers, functions, INSERT, the inside of a trigger body) does
        // not change which tables and indexes exist.
    }

    fn create_table(&mut self, name: String, c: &mut Cursor<'_>) {
        let mut table = Table::default();
        let mut uniques = Vec::new();
        for item in c.group() {
            let mut e = Cursor { toks: item, at: 0 };
            if e.eat(&["constraint"]) {
                e.word();
            }
            if e.eat(&["primary", "key"]) {
                table.primary_key = column_list(&mut e);
            } else if e.eat(&["unique"]) {
                uniques.push(column_list(&mut e));
            } else if e.eat(&["foreign", "key"]) || e.eat(&["check"]) {
            } else {
                let column = e.word();
                if has_words(item, &["primary", "key"]) {
                    table.primary_key = vec![column.clone()];
                }
                if has_words(item, &["unique"]) {
                    uniques.push(vec![column.clone()]);
                }
                table.columns.push(column);
            }
        }
        assert!(!table.columns.is_empty(), "CREATE TABLE {name}: no columns read");
        for columns in uniques {
            let ix = format!("{name} UNIQUE ({})", columns.join(", "));
            self.indexes.push(Index { name: ix, table: name.clone(), columns });
        }
        self.tables.insert(name, table);
    }
}

struct Rules<'a> {
    patient_key_elsewhere: &'a [(&'a str, &'a str, &'a str)],
    known_exceptions: &'a [(&'a str, &'a str)],
    patient_data_without_patient_id: &'a [(&'a str, &'a str)],
    not_patient_data: &'a [(&'a str, &'a str)],
}

fn listed<'a>(list: &[(&str, &'a str)], table: &str) -> Option<&'a str> {
    list.iter().find(|(t, _)| *t == table).map(|(_, reason)| *reason)
}

/// Every breach of docs/scaling.md in `schema`, as (table, what is wrong); empty when the
/// schema follows it. Stale or reasonless entries in the rules are breaches too.
fn violations(schema: &Schema, rules: &Rules<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut fail = |t: &str, m: String| out.push((t.to_string(), m));
    for (name, table) in &schema.tables {
        let key = rules.patient_key_elsewhere.iter().find(|(t, ..)| t == name).map_or(PATIENT_ID, |(_, col, _)| *col);
        let without = listed(rules.patient_data_without_patient_id, name).or(listed(rules.not_patient_data, name));
        let exception = listed(rules.known_exceptions, name);
        if table.columns.iter().any(|col| col == key) {
            let firsts: Vec<&str> = schema
                .indexes
                .iter()
                .filter(|ix| ix.table == *name)
                .filter_map(|ix| ix.columns.first().map(String::as_str))
                .collect();
            let keyed = table.primary_key.first().map(String::as_str) == Some(key) || firsts.contains(&key);
            match (keyed, exception) {
                (false, None) => fail(
                    name,
                    format!(
                        "table `{name}` has a {key} column, but neither its primary key {:?} nor any index \
                         (first columns {firsts:?}) starts with {key}: add such an index, or list `{name}` in \
                         KNOWN_EXCEPTIONS with the reason (docs/scaling.md)",
                        table.primary_key
                    ),
                ),
                (true, Some(_)) => {
                    fail(name, format!("table `{name}` now starts a key with {key}: remove it from KNOWN_EXCEPTIONS"))
                }
                _ => {}
            }
            if without.is_some() {
                fail(name, format!("table `{name}` has a {key} column but is listed as a table without one"));
            }
        } else {
            if without.is_none() {
                fail(
                    name,
                    format!(
                        "table `{name}` has no patient_id column: give it patient_id first in its primary key or \
                         an index, or list it in PATIENT_DATA_WITHOUT_PATIENT_ID or NOT_PATIENT_DATA with the \
                         reason (docs/scaling.md)"
                    ),
                );
            }
            if exception.is_some() {
                fail(name, format!("table `{name}` has no {key} column: remove it from KNOWN_EXCEPTIONS"));
            }
        }
    }
    let lists = [rules.known_exceptions, rules.patient_data_without_patient_id, rules.not_patient_data];
    let named = lists.iter().flat_map(|l| l.iter().copied());
    let elsewhere = rules.patient_key_elsewhere.iter().map(|(t, _, reason)| (*t, *reason));
    for (t, reason) in named.chain(elsewhere) {
        if !schema.tables.contains_key(t) {
            fail(t, format!("table `{t}` is listed in the rules but the migrations do not create it"));
        }
        if reason.trim().is_empty() {
            fail(t, format!("table `{t}` is listed in the rules without a reason"));
        }
    }
    out
}

fn report(v: &[(String, String)]) -> String {
    v.iter().map(|(_, m)| format!("- {m}")).collect::<Vec<_>>().join("\n")
}

/// The schema one database ends with: every migration, common SQL then the dialect's.
fn migrated_schema(postgres: bool) -> Schema {
    let mut schema = Schema::default();
    for m in MIGRATIONS {
        schema.apply(m.common);
        schema.apply(if postgres { m.postgres } else { m.sqlite });
    }
    schema
}

#[test]
fn migrations_key_every_patient_table_by_patient() {
    for (dialect, postgres) in [("sqlite", false), ("postgres", true)] {
        let schema = migrated_schema(postgres);
        // The parser read the schema, not nothing: a few facts from different migrations.
        let index = |ix: &str| schema.indexes.iter().find(|i| i.name == ix).map(|i| i.columns.join(", "));
        assert_eq!(index("entries_timeline").as_deref(), Some("patient_id, entry_recorded_at, entry_id"));
        assert_eq!(index("audit_patient").as_deref(), Some("patient_id, seq"));
        assert_eq!(index("entry_marks_entry"), None, "0003 drops entry_marks_entry");
        assert_eq!(index("entry_marks_one").as_deref(), Some("patient_id, entry_id"), "0003 adds entry_marks_one");
        assert_eq!(schema.tables["diary_entries"].primary_key, ["patient_id", "id"]);
        assert_eq!(schema.tables["family_invitation_revocations"].primary_key, ["invitation_id"]);
        assert!(schema.tables["sessions"].columns.iter().any(|c| c == "passkey_state"), "0012 ALTER TABLE");
        // Every table the rules name must exist, so a parser that read too little fails.
        let v = violations(&schema, &RULES);
        assert!(v.is_empty(), "{dialect}: the schema breaks docs/scaling.md:\n{}", report(&v));
    }
}

/// The checker fails, naming the table, on each way a table can miss the rule.
#[test]
fn schema_rules_name_a_table_not_keyed_by_patient() {
    const BAD: &str = "
        -- A comment with a ; and CREATE TABLE commented (patient_id TEXT);
        CREATE TABLE patients (id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT 'a;b');
        CREATE TABLE good (patient_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (patient_id, id));
        CREATE TABLE good_by_index (id TEXT PRIMARY KEY, patient_id TEXT NOT NULL REFERENCES patients(id));
        CREATE UNIQUE INDEX good_by_index_patient ON good_by_index (patient_id, id);
        CREATE TABLE good_by_constraint (id TEXT PRIMARY KEY, patient_id TEXT, CONSTRAINT c UNIQUE (patient_id, id));
        CREATE TABLE second_in_key (user_id TEXT, patient_id TEXT, PRIMARY KEY (user_id, patient_id));
        CREATE TABLE second_in_index (id TEXT PRIMARY KEY, patient_id TEXT);
        CREATE INDEX second_in_index_ix ON second_in_index (id, patient_id);
        CREATE TABLE added_later (id TEXT PRIMARY KEY);
        ALTER TABLE added_later ADD COLUMN patient_id TEXT;
        CREATE TABLE index_dropped (id TEXT PRIMARY KEY, patient_id TEXT);
        CREATE INDEX index_dropped_patient ON index_dropped (patient_id);
        DROP INDEX index_dropped_patient;
        CREATE TABLE unlisted (id TEXT PRIMARY KEY, owner TEXT);
        CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN CREATE TABLE hidden (patient_id TEXT); END;
        $$;
        CREATE TRIGGER t BEFORE DELETE ON good BEGIN SELECT RAISE(ABORT, 'no; never'); END;
    ";
    let mut schema = Schema::default();
    schema.apply(BAD);
    assert!(!schema.tables.contains_key("hidden"), "a function body is not schema");
    let rules = Rules {
        patient_key_elsewhere: PATIENT_KEY_ELSEWHERE,
        known_exceptions: &[],
        patient_data_without_patient_id: &[],
        not_patient_data: &[],
    };
    let v = violations(&schema, &rules);
    let tables: Vec<&str> = v.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tables, ["added_later", "index_dropped", "second_in_index", "second_in_key", "unlisted"], "{v:#?}");
    for (t, m) in &v {
        assert!(m.contains(&format!("table `{t}`")), "the message names the table: {m}");
    }

    // Listing them with a reason clears them; a listed table that follows the rule, or
    // that does not exist, is itself a breach.
    let rules = Rules {
        patient_key_elsewhere: PATIENT_KEY_ELSEWHERE,
        known_exceptions: &[
            ("added_later", "r"),
            ("index_dropped", "r"),
            ("second_in_index", "r"),
            ("second_in_key", "r"),
            ("good", "follows the rule"),
        ],
        patient_data_without_patient_id: &[("unlisted", "r")],
        not_patient_data: &[("gone", "r")],
    };
    let v = violations(&schema, &rules);
    let tables: Vec<&str> = v.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tables, ["good", "gone"], "{v:#?}");
}

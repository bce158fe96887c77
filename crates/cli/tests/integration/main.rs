//! The integration suite: the real application on port 0 with a fresh database per
//! test (SQLite by default; PostgreSQL with `TSUNAGU_TEST_BACKEND=postgres` and
//! `TSUNAGU_TEST_POSTGRES_URL`), seeded with the demo region, driven over HTTP and
//! through the real `tsunagu` binary. Each test ends with `finish()`, which checks the
//! database's integrity and the audit chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod access;
mod accounts;
mod acp;
mod api;
mod audit;
mod backup;
mod chart;
mod chart_inbox;
mod chart_validation;
mod cli;
mod emergency;
mod family;
mod fhir;
mod fulltext;
mod generate;
mod harness;
mod headers;
mod import;
mod input;
mod letters;
mod load;
mod programme;
mod registry;
mod second_factor;
mod second_factor_passkeys;
mod signin;
mod transition;
mod uploads;

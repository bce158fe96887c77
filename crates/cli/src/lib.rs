//! The `tsunagu` command: configuration, subcommands and the demo region.

pub mod backup;
pub mod commands;
pub mod config;
pub mod demo;
pub mod generate;
pub mod import;
pub mod reindex;
pub mod research;
pub mod server;

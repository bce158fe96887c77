//! Reading SS-MIX2 standardized storage and HL7 v2.5 messages for tsunagu's importer.
//!
//! The pieces, in the order the importer uses them:
//! [`storage::walk`] lists a storage tree and yields each file with its bytes and SHA-256;
//! [`decode::decode`] turns bytes into text (ISO-2022-JP, Shift_JIS or UTF-8) before any
//! splitting; [`parse::parse`] reads the HL7 syntax; [`Message::header`],
//! [`Message::patient`], [`Message::lab_results`] and [`Message::prescriptions`] extract
//! typed values. [`fixtures`] writes a deterministic synthetic storage, hostile files
//! included, for tests and benchmarks. Pure library: no database, no logging.

pub mod datetime;
pub mod decode;
pub mod fixtures;
pub mod model;
pub mod parse;
pub mod storage;

pub use datetime::{Hl7Timestamp, Precision, TimestampError};
pub use decode::{Charset, DecodeError, decode};
pub use model::{Extracted, Header, LabResult, LabValue, ModelError, Patient, Prescription, ReferenceRange};
pub use parse::{Message, ParseError, parse};
pub use storage::{StorageFile, StorageItem, WalkError, walk};

//! Property tests: the in-memory engine and the layered stacks against `BTreeMap` models.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod model;

mod cache_flush;
mod memory;
mod stack;

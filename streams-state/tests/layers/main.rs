//! Exact-behaviour tests for the store layers, the builder and restoration.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod builder;
mod caching;
mod logging;
mod restore;

//! Shared pieces of the cross-crate stories.
#![allow(dead_code)] // each test crate uses a different part of the harness

pub mod browser;
pub mod desktop;
pub mod lossy_link;

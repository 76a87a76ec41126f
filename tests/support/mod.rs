//! Shared pieces of the cross-crate stories.
#![allow(dead_code)] // each test crate uses a different part of the harness

pub mod desktop;

use std::net::TcpListener;

/// A loopback port nobody is listening on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("loopback has free ports")
}

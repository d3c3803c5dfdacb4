//! Server tests through its public interface: viewer and owner APIs, consoles, embedding, connections, TLS, crash safety and durability.
//!
//! One test binary for the crate (each module was its own binary before): the workspace
//! links once per crate instead of once per file. Run one group with `cargo test -p
//! veilmark-server --test server MODULE::`.

mod access;
mod alerts;
mod classification;
mod common;
mod connections;
mod console;
mod crash;
mod durability;
mod embed;
mod health;
mod hostile_load;
mod leases;
mod objects_s3;
mod owner_api;
mod pg_ops;
mod power_loss;
mod proxies;
mod replicas;
mod reviews;
mod shared_keys;
mod tls;
mod viewer_api;
mod viewer_page;

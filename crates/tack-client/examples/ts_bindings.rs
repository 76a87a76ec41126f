//! Prints the TypeScript declarations of the engine's event contract (feature `ts`).
//! The desktop's `tests/ipc_bindings.rs` checks the committed file against this output.
fn main() {
    print!("{}", tack_client::events::typescript_bindings());
}

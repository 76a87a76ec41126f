//! Prints the TypeScript declarations of the history's part of the IPC contract (feature
//! `ts`). The desktop's `tests/ipc_bindings.rs` checks the committed file against this output.
fn main() {
    print!("{}", tack_history::show::typescript_bindings());
}

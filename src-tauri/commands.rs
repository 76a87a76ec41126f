// The commands the UI may call: one table, read by two macros. `ipc.rs` makes the Tauri
// commands and the UI's TypeScript of it; `build.rs` includes this file too and takes the names
// for the permissions. So: no `use` lines and no inner docs here (paths are written in full),
// and each body is a line or two into the crates.

commands! {
    /// The profile to start on: the built-in server, or the one from `--connect` /
    /// `TACK_CONNECT`.
    fn initial_profile(state: tauri::State<'_, crate::state::AppState>;) -> tack_client::Profile {
        Ok(state.initial.clone())
    }

    /// The built-in server's address, publish address and launch secret (starting it if it
    /// is not running), for the user's own scripts.
    fn builtin_server(state: tauri::State<'_, crate::state::AppState>;) -> tack_client::BuiltinServer {
        state.builtin().await
    }

    /// (Re)connects the one active session. Engine events arrive in batches on `onEvent` until
    /// the next `connect` or `disconnect`.
    fn connect(
        state: tauri::State<'_, crate::state::AppState>;
        profile: tack_client::Profile,
        on_event: tauri::ipc::Channel<tack_client::EventBatch>
    ) -> () {
        state.connect(profile, on_event).await
    }

    fn disconnect(state: tauri::State<'_, crate::state::AppState>;) -> () {
        state.disconnect().await;
        Ok(())
    }

    /// Enters a room, resuming after the last event stored of it (what was said meanwhile
    /// arrives once; a gap marks what the server no longer holds).
    fn enter(state: tauri::State<'_, crate::state::AppState>; room: String) -> () {
        state.follow(tack_client::Target::Room(room)).await
    }

    fn leave(state: tauri::State<'_, crate::state::AppState>; room: String) -> () {
        state.unfollow(tack_client::Target::Room(room)).await
    }

    /// Queues a chat message; returns its client id. `send` events follow: pending → sent |
    /// failed.
    fn send(state: tauri::State<'_, crate::state::AppState>; room: String, comment: String) -> String {
        state.with_session(|s| s.send(&room, &comment)).await
    }

    fn retry_send(state: tauri::State<'_, crate::state::AppState>; cid: String) -> () {
        state.with_session(|s| s.retry_send(&cid)).await
    }

    /// Watches a channel, resuming after the last item stored of it.
    fn watch(state: tauri::State<'_, crate::state::AppState>; channel: String) -> () {
        state.follow(tack_client::Target::Channel(channel)).await
    }

    fn unwatch(state: tauri::State<'_, crate::state::AppState>; channel: String) -> () {
        state.unfollow(tack_client::Target::Channel(channel)).await
    }

    /// The rooms and channels that were open on this connection's server when the app last
    /// closed, rooms first: the window opens them again.
    fn open_places(state: tauri::State<'_, crate::state::AppState>;) -> Vec<tack_client::Target> {
        state.history.open_places().await
    }

    /// The newest `limit` stored events of a room or channel on this connection's server,
    /// oldest first, gaps where they fall: shown at once, before the server answers.
    fn history(
        state: tauri::State<'_, crate::state::AppState>;
        target: tack_client::Target,
        limit: usize
    ) -> Vec<tack_history::HistoryEvent> {
        state.history.recent(target, limit).await
    }

    /// Searches everything stored, every server: words, "phrases", prefix*, -word, from:,
    /// in:, server:, after:, before:. A mistake in the query is refused with what to change.
    fn search(state: tauri::State<'_, crate::state::AppState>; query: String, limit: usize) -> Vec<tack_history::SearchHit> {
        state.history.search(query, limit).await
    }

    /// A search hit (its `key`) with up to `before` stored events before it and `after`
    /// after it in its room or channel.
    fn search_context(
        state: tauri::State<'_, crate::state::AppState>;
        key: i64,
        before: usize,
        after: usize
    ) -> Vec<tack_history::HistoryEvent> {
        state.history.context(key, before, after).await
    }

    /// The history file's size and its cap.
    fn store_info(state: tauri::State<'_, crate::state::AppState>;) -> tack_history::StoreInfo {
        state.history.info().await
    }

    /// Removes everything stored, on every server.
    fn forget_history(state: tauri::State<'_, crate::state::AppState>;) -> () {
        state.history.forget().await
    }

    fn set_nick(state: tauri::State<'_, crate::state::AppState>; nick: String) -> () {
        state.with_session(|s| s.set_nick(&nick)).await
    }

    /// Skips the reconnect back-off and tries now.
    fn retry_now(state: tauri::State<'_, crate::state::AppState>;) -> () {
        state
            .with_session(|s| {
                s.retry_now();
                Ok(())
            })
            .await
    }

    /// Sets the monitor's jq query (`filter` keeps items, `map` shows what it yields of each;
    /// blank fields are none); answers its generation, which the verdicts on items name, and
    /// its verdicts on the newest items already delivered. A mistake is refused with its field
    /// and column, and the query in force stays.
    fn set_monitor_query(
        state: tauri::State<'_, crate::state::AppState>;
        filter: String,
        map: String
    ) -> tack_client::query::QueryApplied {
        state.set_monitor_query(filter, map).await
    }

    /// A binary item (as the engine carries it, base64) as hex, and as MessagePack or CBOR
    /// when it is one.
    fn decode_binary(; payload: String) -> tack_client::binary::BinaryView {
        tack_client::binary::view_base64(&payload)
    }

    /// Writes the engine's kept items of `channels` as JSON Lines to `path` (chosen by the user
    /// in the save dialog); answers how many lines were written.
    fn export_jsonl(
        state: tauri::State<'_, crate::state::AppState>;
        path: String,
        channels: Vec<String>
    ) -> usize {
        state.export_jsonl(&path, &channels).await
    }

    /// Starts recording the items of `targets` to `path` (chosen in the save dialog) as they
    /// arrive, in the export's format; `recording` events count what is written.
    fn start_recording(
        state: tauri::State<'_, crate::state::AppState>;
        path: String,
        targets: Vec<tack_client::Target>
    ) -> () {
        state.start_recording(path, targets).await
    }

    /// Stops the recording; answers how many items the file holds.
    fn stop_recording(state: tauri::State<'_, crate::state::AppState>;) -> u64 {
        state.stop_recording().await
    }

    /// Opens a recording (read by the engine; a bad line is refused with its line and column)
    /// for replay, paused at its start; answers how many items it holds. Its items and
    /// `replay` events arrive on the connection's `onEvent`.
    fn open_recording(state: tauri::State<'_, crate::state::AppState>; path: String) -> u64 {
        state.open_recording(path).await
    }

    /// Plays, pauses, steps, seeks or changes the speed of the open recording's replay.
    fn steer_replay(state: tauri::State<'_, crate::state::AppState>; steer: tack_client::player::Steer) -> () {
        state.steer_replay(steer).await
    }

    /// Ends the replay.
    fn close_replay(state: tauri::State<'_, crate::state::AppState>;) -> () {
        state.close_replay().await;
        Ok(())
    }

    /// Shows a desktop notification; `body` is plain text and shows as typed.
    fn notify(app: tauri::AppHandle; title: String, body: String) -> () {
        crate::notify::show(&app, title, body).await
    }
}
